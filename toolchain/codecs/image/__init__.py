"""Images for the LoRa camera codec (issue 14, in progress): the codec and what it is measured with.

    dataset.py   flowers_227 and Kodak: listing, the split, loading to uint8 RGB at a fixed size
    metrics.py   PSNR and MS-SSIM (numpy/scipy, checked against tf.image.ssim_multiscale)
    jpeg.py      JPEG ("paper" and "optimized" settings) and WebP through Pillow, quality search
                 to a byte budget
    lora.py      LoRa time on air, EU868 payload limits, packetization, loss models, radio energy
    jpeg_loss.py JPEG with restart markers under packet loss, decoded as a receiver would, and
                 JPEG + a zfec erasure code at equal airtime
    lora_network.py  LoRaSim's model on SimPy: collisions, capture, duty cycle, retransmission
    rate_quality.py  rate-quality rows at byte budgets, efficiency at equal MS-SSIM
    codec_model.py   the Starfish-style patch CNN autoencoder (Keras), latent bins, drop masks
    nas_space.py     the Starfish design space (patches x 3 stage widths) and its board filter
    entropy.py       latent coders (canonical Huffman, adaptive range coder, fixed length) and
                     shuffling of fixed-length latents across packets

The modules import only numpy and scipy at import time (Pillow, zfec, SimPy, constriction and
TensorFlow inside the functions that need them), so the data and metric code stays usable
without TensorFlow.
"""
