/* Link application main loop for boards with a byte-oriented UART HAL
 * (tc_hal_getc returns -1 when nothing is pending, -2 when the link is gone). */
#include "tc_app.h"
#include "tc_hal.h"

int main(void)
{
    tc_app_init();
    for (;;) {
        const int c = tc_hal_getc();
        if (c >= 0) {
            tc_app_rx((uint8_t)c);
        } else if (c == -2) {
            break;
        } else {
            tc_app_idle();
        }
    }
    tc_hal_exit(0);
    return 0;
}
