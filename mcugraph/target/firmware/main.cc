// One inference of the bundled model with TFLite Micro, written by `mcugraph firmware`.
//
// The input is model_input.cc's sample; the output bytes, the arena TFLM used and the ticks each operator took
// are printed as "mcugraph:" lines (mcugraph bench reads them). The arena is sized by model_config.h's
// kTensorArenaSize, the bytes TFLM needs for this model on the bundle's target and kernel set; define
// MCUGRAPH_ARENA_BYTES to give it more (bench does, to measure what TFLM really uses).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "model_config.h"
#include "model_data.h"
#include "model_input.h"
#include "op_resolver.h"
#include "platform.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
#ifdef MCUGRAPH_FIND_ARENA
#include "tensorflow/lite/micro/recording_micro_interpreter.h"
#endif

#ifndef MCUGRAPH_ARENA_BYTES
#define MCUGRAPH_ARENA_BYTES kTensorArenaSize
#endif

namespace {

alignas(16) uint8_t g_arena[MCUGRAPH_ARENA_BYTES];

// One slot per operator invocation: the model's operator count, not TFLM's 4,096-event MicroProfiler (80 KB).
class OperatorTicks : public tflite::MicroProfilerInterface {
 public:
  uint32_t BeginEvent(const char* tag) override {
    if (count_ >= kOperatorCount) return kOperatorCount;
    tags_[count_] = tag;
    start_[count_] = mcugraph_ticks();
    return count_++;
  }
  void EndEvent(uint32_t handle) override {
    if (handle < kOperatorCount) end_[handle] = mcugraph_ticks();
  }
  void Print() const {
    char line[96];
    for (uint32_t i = 0; i < count_; ++i) {
      std::snprintf(line, sizeof(line), "mcugraph: op %lu %s %lu\n", static_cast<unsigned long>(i), tags_[i],
                    static_cast<unsigned long>(end_[i] - start_[i]));
      mcugraph_print(line);
    }
  }

 private:
  const char* tags_[kOperatorCount] = {};
  uint32_t start_[kOperatorCount] = {};
  uint32_t end_[kOperatorCount] = {};
  uint32_t count_ = 0;
};

void PrintBytes(const char* what, size_t index, const uint8_t* data, size_t size) {
  static const char kHex[] = "0123456789abcdef";
  char line[80];
  std::snprintf(line, sizeof(line), "mcugraph: %s %lu %lu ", what, static_cast<unsigned long>(index),
                static_cast<unsigned long>(size));
  mcugraph_print(line);
  char chunk[65];
  size_t used = 0;
  for (size_t i = 0; i < size; ++i) {
    chunk[used++] = kHex[data[i] >> 4];
    chunk[used++] = kHex[data[i] & 15];
    if (used == 64) {
      chunk[used] = '\0';
      mcugraph_print(chunk);
      used = 0;
    }
  }
  chunk[used] = '\0';
  mcugraph_print(chunk);
  mcugraph_print("\n");
}

int Fail(const char* why) {
  mcugraph_print("mcugraph: error ");
  mcugraph_print(why);
  mcugraph_print("\n");
  return 1;
}

#ifdef MCUGRAPH_FIND_ARENA
// The smallest arena (a multiple of 16) in which AllocateTensors succeeds. arena_used_bytes() is not it: while
// planning, TFLM takes temporary memory between head and tail that it frees before reporting, and for a small
// model that peak is above the final figure. Kernels take memory only in Init and Prepare, so a successful
// AllocateTensors is enough; bench confirms the figure with a full run anyway.
bool Allocates(const tflite::Model* model, ModelOpResolver& resolver, size_t bytes) {
  tflite::MicroInterpreter interpreter(model, resolver, g_arena, bytes);
  return interpreter.AllocateTensors() == kTfLiteOk;
}

void FindArena(size_t used) {
  const tflite::Model* model = tflite::GetModel(g_model);
  ModelOpResolver resolver;
  RegisterOps(resolver);
  size_t low = (used + 15) / 16 * 16, step = 16;
  while (!Allocates(model, resolver, low + step) && low + step < sizeof(g_arena)) {
    low += step;
    step *= 2;
  }
  size_t high = low + step;  // allocates; low - 16 did not, or low is the figure TFLM reported
  if (Allocates(model, resolver, low)) high = low;
  while (high - low > 16) {
    const size_t mid = (low + high) / 32 * 16;
    if (Allocates(model, resolver, mid)) {
      high = mid;
    } else {
      low = mid;
    }
  }
  char line[64];
  std::snprintf(line, sizeof(line), "mcugraph: arena_min %lu\n", static_cast<unsigned long>(high));
  mcugraph_print(line);
}

// The arena by kind, as TFLM's recording allocator counts it: the planned head, the persistent tail, and the
// tail's parts. Its own allocator objects are larger than MicroAllocator's, so its tail is a little above the
// plain interpreter's.
void PrintRecording() {
  const tflite::Model* model = tflite::GetModel(g_model);
  ModelOpResolver resolver;
  RegisterOps(resolver);
  tflite::RecordingMicroInterpreter interpreter(model, resolver, g_arena, sizeof(g_arena));
  if (interpreter.AllocateTensors() != kTfLiteOk) return;
  const tflite::RecordingMicroAllocator& allocator = interpreter.GetMicroAllocator();
  static const char* const kKinds[] = {"eval_tensors", "persistent_tensors", "persistent_quantization",
                                       "persistent_buffers", "variable_buffers", "node_and_registration",
                                       "op_data"};
  char line[96];
  for (int i = 0; i < static_cast<int>(tflite::RecordedAllocationType::kNumAllocationTypes) && i < 7; ++i) {
    const tflite::RecordedAllocation a =
        allocator.GetRecordedAllocation(static_cast<tflite::RecordedAllocationType>(i));
    std::snprintf(line, sizeof(line), "mcugraph: recorded %s %lu %lu\n", kKinds[i],
                  static_cast<unsigned long>(a.used_bytes), static_cast<unsigned long>(a.count));
    mcugraph_print(line);
  }
  std::snprintf(line, sizeof(line), "mcugraph: recorded_split %lu %lu\n",
                static_cast<unsigned long>(allocator.GetSimpleMemoryAllocator()->GetNonPersistentUsedBytes()),
                static_cast<unsigned long>(allocator.GetSimpleMemoryAllocator()->GetPersistentUsedBytes()));
  mcugraph_print(line);
}
#endif

size_t g_arena_used = 0;

int Run() {
  const tflite::Model* model = tflite::GetModel(g_model);
  ModelOpResolver resolver;
  if (RegisterOps(resolver) != kTfLiteOk) return Fail("registering the operators");
  static OperatorTicks profiler;
  tflite::MicroInterpreter interpreter(model, resolver, g_arena, sizeof(g_arena), nullptr, &profiler);
  if (interpreter.AllocateTensors() != kTfLiteOk) return Fail("AllocateTensors (arena too small?)");
  if (interpreter.inputs_size() != kInputCount || interpreter.outputs_size() != kOutputCount) {
    return Fail("the model's input/output count differs from model_config.h");
  }
  for (size_t i = 0; i < kInputCount; ++i) {
    TfLiteTensor* input = interpreter.input(i);
    if (input->bytes != g_input_bytes[i]) return Fail("an input's size differs from model_input.cc");
    std::memcpy(input->data.raw, g_inputs[i], input->bytes);
  }
  constexpr uint32_t kLoops = 1000000;
  const uint32_t loop_ticks = mcugraph_calibrate(kLoops);
  const uint32_t start = mcugraph_ticks();
  if (interpreter.Invoke() != kTfLiteOk) return Fail("Invoke");
  const uint32_t ticks = mcugraph_ticks() - start;
  for (size_t i = 0; i < kOutputCount; ++i) {
    const TfLiteTensor* output = interpreter.output(i);
    PrintBytes("output", i, reinterpret_cast<const uint8_t*>(output->data.raw), output->bytes);
  }
  profiler.Print();
  // After Invoke: a kernel may still take persistent memory on its first run.
  char line[128];
  std::snprintf(line, sizeof(line),
                "mcugraph: arena_used %lu\nmcugraph: ticks %lu\nmcugraph: calibrate %lu %lu\n"
                "mcugraph: stack_used %lu\n",
                static_cast<unsigned long>(interpreter.arena_used_bytes()), static_cast<unsigned long>(ticks),
                static_cast<unsigned long>(2 * kLoops), static_cast<unsigned long>(loop_ticks),
                static_cast<unsigned long>(mcugraph_stack_used()));
  mcugraph_print(line);
  g_arena_used = interpreter.arena_used_bytes();
  return 0;
}

}  // namespace

int main() {
  mcugraph_platform_init();
  const int status = Run();  // the interpreter is gone before the arena is reused
#ifdef MCUGRAPH_FIND_ARENA
  if (status == 0) {
    FindArena(g_arena_used);
    PrintRecording();
  }
#endif
  if (status == 0) mcugraph_print("mcugraph: done\n");
  mcugraph_finish(status);
  return 0;
}
