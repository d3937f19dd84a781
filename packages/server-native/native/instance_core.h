// The execution context of one instance: a dedicated thread with a FIFO job queue, and a thread-safe
// function that carries results back to the JS thread. The thread-safe function is referenced (keeps the
// event loop alive) only while jobs are in flight, so an idle instance never holds the process open.
//
// Inline execution: an instance created with inlineMaxBytes > 0 (CPU copy / add_sub_i32 kernels only) runs
// an execution whose inputs total at most that many bytes on the JS thread, inside execute(), when it has
// nothing queued or running: its thread is then waiting for work and cannot touch the executor meanwhile.
// That saves the hand-off to the instance thread and back (two thread wake-ups) for executions that cost
// less than the hand-off. Timings keep their meaning: queueNs is the (near zero) time from execute() to the
// start, startNs/endNs bracket the kernel wherever it ran.
//
// Lifetime: the core is shared by the JS wrapper, the thread, and the thread-safe function's finalizer.
// The thread releases the thread-safe function after a close; its finalizer (JS thread) joins the thread.
#pragma once

#include <napi.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "executor.h"

namespace iaas {

struct Job {
  bool isClose = false;
  bool holdsLoop = false;       // counted in inFlight_ (the loop is kept alive for it)
  napi_deferred deferred = nullptr;
  std::vector<napi_ref> keepAlive;
  ExecuteBuffers buffers;
  int64_t enqueuedNs = 0;
  // Filled where the job runs (the instance thread, or the JS thread for inline executions).
  int64_t startNs = 0;
  int64_t endNs = 0;
  PhaseTimings timings;
  bool ok = false;
  std::string error;
};

class InstanceCore;
constexpr size_t kTimingCount = 6;
// Thread-safe function callback (JS thread): settles the job's promise. Defined in instance_core.cc.
void DeliverJob(Napi::Env env, Napi::Function, InstanceCore* core, Job* job);

class InstanceCore {
 public:
  // Starts the thread and waits until the executor is initialised on it. Throws Napi::Error on failure.
  // `inlineMaxBytes` > 0 enables inline execution (see above); the caller checks that the kernel allows it.
  // A non-empty `cpuCores` binds the thread to those cores before the executor initialises.
  static std::shared_ptr<InstanceCore> Start(Napi::Env env, std::string name, std::unique_ptr<Executor> executor,
                                             size_t inlineMaxBytes, std::vector<int> cpuCores);

  InstanceCore(std::string name, std::unique_ptr<Executor> executor, size_t inlineMaxBytes, std::vector<int> cpuCores);
  ~InstanceCore();

  // JS thread only.
  void Submit(Napi::Env env, std::unique_ptr<Job> job);
  // JS thread only: whether an execution with `inputBytes` of inputs runs inline right now.
  bool CanRunInline(size_t inputBytes) const {
    return inlineMaxBytes_ > 0 && inputBytes <= inlineMaxBytes_ && inFlight_ == 0 && !closing_;
  }
  // JS thread only, after CanRunInline: runs the job here (the caller then settles it).
  void RunInline(Job& job);
  // JS thread only: resolves or rejects the job's promise (and frees its references).
  void Settle(Napi::Env env, Job* job);
  // The timings of a finished job in ExecuteTimings order: computeInputNs, computeInferNs, computeOutputNs,
  // queueNs, startNs, endNs.
  static void WriteTimings(const Job& job, double* out);
  // JS thread only. `deferred` (may be null) is resolved once queued jobs finished and the thread stopped.
  void Close(Napi::Env env, napi_deferred deferred);
  // JS thread only; safe from a finalizer (no JS calls): stops the thread after queued jobs, resolving nothing.
  void CloseFromFinalizer();
  bool closing() const { return closing_; }
  bool closed() const { return closed_; }

 private:
  using Tsfn = Napi::TypedThreadSafeFunction<InstanceCore, Job, &DeliverJob>;
  friend void DeliverJob(Napi::Env env, Napi::Function, InstanceCore* core, Job* job);

  static void Finalize(Napi::Env env, std::shared_ptr<InstanceCore>* self, InstanceCore* core);
  void ThreadMain();
  void Enqueue(Job* job);

  const std::string name_;
  // Property names of the timings object, created once: naming them per result interned six strings
  // per execution (a measurable share of the JS thread's time per request).
  enum ResultKey { kComputeInputNs, kComputeInferNs, kComputeOutputNs, kQueueNs, kStartNs, kEndNs, kResultKeyCount };
  napi_ref resultKeys_ = nullptr;  // an array of the kResultKeyCount names (Node-API 8 refs need objects)
  std::unique_ptr<Executor> executor_;
  const size_t inlineMaxBytes_;
  const std::vector<int> cpuCores_;
  std::thread thread_;
  Tsfn tsfn_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job*> queue_;       // guarded by mu_
  bool abort_ = false;           // guarded by mu_: the environment is going away, stop now
  bool initDone_ = false;        // guarded by mu_
  std::string initError_;        // guarded by mu_

  // JS thread only.
  size_t inFlight_ = 0;
  bool closing_ = false;
  bool closed_ = false;
  std::vector<napi_deferred> closeWaiters_;
};

}  // namespace iaas
