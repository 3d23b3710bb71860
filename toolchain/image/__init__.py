"""Images for the LoRa camera codec (issue 14): the non-learned half everything is measured with.

    dataset.py   flowers_227 and Kodak: listing, the split, loading to uint8 RGB at a fixed size
    metrics.py   PSNR and MS-SSIM (numpy/scipy, checked against tf.image.ssim_multiscale)
    jpeg.py      JPEG ("paper" and "optimized" settings) and WebP through Pillow, quality search
                 to a byte budget
    lora.py      LoRa time on air, EU868 payload limits, packetization, loss models, radio energy
    jpeg_loss.py JPEG with restart markers under packet loss, decoded as a receiver would, and
                 JPEG + a zfec erasure code at equal airtime

The modules import only numpy, scipy and Pillow at import time (zfec when an erasure code is
asked for), so the data and metric code stays usable without TensorFlow.
"""
