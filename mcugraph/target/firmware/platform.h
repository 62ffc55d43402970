/* What main.cc needs from the board: text out, a tick counter, the end of the run.
 * platform_host.cc implements it for a host build; the QEMU boards' files (platform_semihost.cc, startup.cc)
 * for an emulated Cortex-M. A user's board implements these functions. */
#ifndef MCUGRAPH_PLATFORM_H_
#define MCUGRAPH_PLATFORM_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void mcugraph_platform_init(void);   /* clocks, tick source, TFLM's log output */
void mcugraph_print(const char* s);  /* one string, no newline added */
uint32_t mcugraph_ticks(void);       /* a free-running tick count (0 where the board has none) */
uint32_t mcugraph_stack_used(void);  /* bytes of stack touched so far (0 where unknown) */
void mcugraph_finish(int status);    /* end of the program: 0 success */
/* Ticks that `count` iterations of a two-instruction loop take (0 where unknown): instructions per tick. */
uint32_t mcugraph_calibrate(uint32_t count);

#ifdef __cplusplus
}
#endif

#endif  /* MCUGRAPH_PLATFORM_H_ */
