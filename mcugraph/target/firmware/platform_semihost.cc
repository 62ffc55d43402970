// platform.h for QEMU's Cortex-M boards: text over Arm semihosting, SysTick as the tick source.
//
// QEMU does not model cycles. Run with `-icount shift=0` and each instruction advances virtual time by 1 ns, so
// SysTick, clocked from the core clock, counts instructions: one tick per (1e9 / clock) instructions. bench
// measures that ratio on a loop of known length (mcugraph_calibrate) instead of assuming it.
#include <cstdint>

#include "platform.h"
#include "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h"
#include "tensorflow/lite/micro/micro_time.h"

namespace {

constexpr uint32_t kReload = 0x00FFFFFFu;  // SysTick is a 24-bit down-counter
volatile uint32_t* const kSysTick = reinterpret_cast<volatile uint32_t*>(0xE000E010u);  // CTRL, LOAD, VAL
volatile uint32_t g_wraps = 0;

int Semihost(int operation, const void* argument) {
  register int r0 __asm__("r0") = operation;
  register const void* r1 __asm__("r1") = argument;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

}  // namespace

extern "C" {

void SysTick_Handler(void) { g_wraps = g_wraps + 1; }

void mcugraph_print(const char* s) { Semihost(0x04, s); }  // SYS_WRITE0

uint32_t mcugraph_ticks(void) {
  uint32_t wraps, value;
  do {
    wraps = g_wraps;
    value = kSysTick[2];
  } while (wraps != g_wraps);
  return wraps * (kReload + 1) + (kReload - value);
}

void mcugraph_platform_init(void) {
  kSysTick[1] = kReload;
  kSysTick[2] = 0;
  kSysTick[0] = 7;  // core clock, interrupt on wrap, enable
  RegisterDebugLogCallback(mcugraph_print);
}

void mcugraph_finish(int status) {
  // SYS_EXIT: ADP_Stopped_ApplicationExit ends QEMU with status 0, ADP_Stopped_RunTimeErrorUnknown with 1.
  Semihost(0x18, reinterpret_cast<const void*>(status == 0 ? 0x20026 : 0x20023));
  for (;;) {
  }
}

// Ticks for `count` iterations of a two-instruction loop: bench divides to get instructions per tick.
uint32_t mcugraph_calibrate(uint32_t count) {
  const uint32_t start = mcugraph_ticks();
  __asm__ volatile(
      "1: subs %0, %0, #1\n\t"
      "bne 1b"
      : "+r"(count)
      :
      : "cc");
  return mcugraph_ticks() - start;
}

}  // extern "C"

namespace tflite {
uint32_t ticks_per_second() { return 0; }  // ticks count instructions here, not time
uint32_t GetCurrentTimeTicks() { return mcugraph_ticks(); }
}  // namespace tflite
