/* Reset and fault handlers for the emulated Cortex-M boards (QEMU's MPS2/MPS3): a vector table, .data copied
 * from flash, .bss zeroed, the stack painted so its high-water mark can be read, C++ constructors, main.
 * A fault prints its name over semihosting and ends the run with a failure status. */
#include <cstdint>

#include "platform.h"

extern "C" {
extern uint32_t __etext, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern uint32_t __StackLimit, __StackTop;
void __libc_init_array(void);
void* __dso_handle = nullptr;
void Reset_Handler(void);
void SysTick_Handler(void);
// newlib's __libc_init_array calls these; the crti/crtn start files that define them are not linked.
void _init(void) {}
void _fini(void) {}
}
int main();

#define STACK_PAINT 0xC5C5C5C5u

static void Fault_Handler(void);
static void Default_Handler(void);

extern "C" __attribute__((section(".isr_vector"), used)) void (*const mcugraph_vectors[16])(void) = {
    reinterpret_cast<void (*)(void)>(&__StackTop),
    Reset_Handler,
    Default_Handler, /* NMI */
    Fault_Handler,   /* HardFault */
    Fault_Handler,   /* MemManage */
    Fault_Handler,   /* BusFault */
    Fault_Handler,   /* UsageFault */
    nullptr, nullptr, nullptr, nullptr,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMonitor */
    nullptr,
    Default_Handler, /* PendSV */
    SysTick_Handler,
};

extern "C" uint32_t mcugraph_stack_used(void) {
  const uint32_t* p = &__StackLimit;
  while (p < &__StackTop && *p == STACK_PAINT) ++p;
  return static_cast<uint32_t>(reinterpret_cast<const char*>(&__StackTop) - reinterpret_cast<const char*>(p));
}

extern "C" void Reset_Handler(void) {
#if defined(__ARM_FP)
  /* CPACR: full access to CP10/CP11, or the first float instruction faults. */
  *reinterpret_cast<volatile uint32_t*>(0xE000ED88u) |= 0xFu << 20;
  __asm volatile("dsb\n\tisb" ::: "memory");
#endif
  const uint32_t* src = &__etext;
  for (uint32_t* dst = &__data_start__; dst < &__data_end__;) *dst++ = *src++;
  for (uint32_t* dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
  uint32_t* sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t* p = &__StackLimit; p < sp - 16; ++p) *p = STACK_PAINT;
  __libc_init_array();
  mcugraph_finish(main());
}

static void Fault_Handler(void) {
  mcugraph_print("mcugraph: error hard fault\n");
  mcugraph_finish(3);
}

static void Default_Handler(void) {
  mcugraph_print("mcugraph: error unexpected interrupt\n");
  mcugraph_finish(3);
}
