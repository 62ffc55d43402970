// The host side of platform.h: stdout, no tick source, exit().
#include <cstdio>
#include <cstdlib>

#include "platform.h"

extern "C" {

void mcugraph_platform_init(void) {}

void mcugraph_print(const char* s) { std::fputs(s, stdout); }

uint32_t mcugraph_ticks(void) { return 0; }

uint32_t mcugraph_stack_used(void) { return 0; }

uint32_t mcugraph_calibrate(uint32_t) { return 0; }

void mcugraph_finish(int status) {
  std::fflush(stdout);
  std::exit(status);
}

}  // extern "C"
