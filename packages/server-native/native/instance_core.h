// The execution context of one instance: a dedicated thread with a FIFO job queue, and a thread-safe
// function that carries results back to the JS thread. The thread-safe function is referenced (keeps the
// event loop alive) only while jobs are in flight, so an idle instance never holds the process open.
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
  // Filled on the instance thread.
  int64_t startNs = 0;
  int64_t endNs = 0;
  PhaseTimings timings;
  bool ok = false;
  std::string error;
};

class InstanceCore;
// Thread-safe function callback (JS thread): settles the job's promise. Defined in instance_core.cc.
void DeliverJob(Napi::Env env, Napi::Function, InstanceCore* core, Job* job);

class InstanceCore {
 public:
  // Starts the thread and waits until the executor is initialised on it. Throws Napi::Error on failure.
  static std::shared_ptr<InstanceCore> Start(Napi::Env env, std::string name, std::unique_ptr<Executor> executor);

  InstanceCore(std::string name, std::unique_ptr<Executor> executor);
  ~InstanceCore();

  // JS thread only.
  void Submit(Napi::Env env, std::unique_ptr<Job> job);
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
  void Settle(Napi::Env env, Job* job);

  const std::string name_;
  std::unique_ptr<Executor> executor_;
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
