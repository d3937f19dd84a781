#include "instance_core.h"

#include <pthread.h>
#include <sched.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "clock.h"

namespace iaas {
namespace {

// Segmented tensors (a dynamic batch given as one buffer per request): inputs are joined into staging
// memory before the executor runs and outputs are split back afterwards, here on the instance thread.
int64_t GatherSegments(ExecuteBuffers& b) {
  if (b.gather.empty() && b.scatter.empty()) return 0;
  const int64_t start = MonotonicNs();
  for (const SegmentedInput& seg : b.gather) {
    ConstSpan& span = b.inputs[seg.index];
    b.staging.emplace_back(new uint8_t[span.size > 0 ? span.size : 1]);
    uint8_t* dst = b.staging.back().get();
    size_t at = 0;
    for (const ConstSpan& part : seg.parts) {
      if (part.size > 0) std::memcpy(dst + at, part.data, part.size);
      at += part.size;
    }
    span.data = dst;
  }
  for (const SegmentedOutput& seg : b.scatter) {
    MutableSpan& span = b.outputs[seg.index];
    b.staging.emplace_back(new uint8_t[span.size > 0 ? span.size : 1]);
    span.data = b.staging.back().get();
  }
  return MonotonicNs() - start;
}

int64_t ScatterSegments(ExecuteBuffers& b) {
  if (b.scatter.empty()) return 0;
  const int64_t start = MonotonicNs();
  for (const SegmentedOutput& seg : b.scatter) {
    const uint8_t* src = b.outputs[seg.index].data;
    size_t at = 0;
    for (const MutableSpan& part : seg.parts) {
      if (part.size > 0) std::memcpy(part.data, src + at, part.size);
      at += part.size;
    }
  }
  return MonotonicNs() - start;
}

// Runs one execution where the caller stands (the instance thread, or the JS thread when inline).
void RunJob(Executor& executor, Job& job) {
  job.startNs = MonotonicNs();
  try {
    const int64_t gatherNs = GatherSegments(job.buffers);
    job.timings = executor.Run(job.buffers);
    job.timings.computeInputNs += gatherNs;
    job.timings.computeOutputNs += ScatterSegments(job.buffers);
    job.buffers.staging.clear();
    job.ok = true;
  } catch (const std::exception& e) {
    job.error = e.what();
  } catch (...) {
    job.error = "unknown error during execution";
  }
  job.endNs = MonotonicNs();
}

}  // namespace

InstanceCore::InstanceCore(std::string name, std::unique_ptr<Executor> executor, size_t inlineMaxBytes, std::vector<int> cpuCores)
    : name_(std::move(name)), executor_(std::move(executor)), inlineMaxBytes_(inlineMaxBytes), cpuCores_(std::move(cpuCores)) {}

InstanceCore::~InstanceCore() {
  // Normally joined by Finalize; only reachable unjoined if Start failed before the thread-safe function existed.
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();
    } else {
      thread_.join();
    }
  }
}

std::shared_ptr<InstanceCore> InstanceCore::Start(Napi::Env env, std::string name, std::unique_ptr<Executor> executor,
                                                  size_t inlineMaxBytes, std::vector<int> cpuCores) {
  auto core = std::make_shared<InstanceCore>(std::move(name), std::move(executor), inlineMaxBytes, std::move(cpuCores));
  static const char* const kResultKeyNames[kResultKeyCount] = {"computeInputNs", "computeInferNs", "computeOutputNs",
                                                              "queueNs", "startNs", "endNs"};
  Napi::Array keys = Napi::Array::New(env, kResultKeyCount);
  for (int i = 0; i < kResultKeyCount; ++i) keys.Set(static_cast<uint32_t>(i), Napi::String::New(env, kResultKeyNames[i]));
  NAPI_THROW_IF_FAILED(env, napi_create_reference(env, keys, 1, &core->resultKeys_), nullptr);
  auto* finalizerRef = new std::shared_ptr<InstanceCore>(core);
  core->tsfn_ = Tsfn::New(env, "iaas:" + core->name_, /*maxQueueSize=*/0, /*initialThreadCount=*/1, core.get(),
                          &InstanceCore::Finalize, finalizerRef);
  core->tsfn_.Unref(env);
  core->thread_ = std::thread([core] { core->ThreadMain(); });

  std::string initError;
  {
    std::unique_lock<std::mutex> lock(core->mu_);
    core->cv_.wait(lock, [&] { return core->initDone_; });
    initError = core->initError_;
  }
  if (!initError.empty()) {
    // The thread has released the thread-safe function and is exiting; Finalize joins it.
    core->closing_ = true;
    core->closed_ = true;
    throw Napi::Error::New(env, "createInstance(\"" + core->name_ + "\"): " + initError);
  }
  return core;
}

namespace {

// Restricts the calling thread to `cores` (no-op when empty); returns an error message or "".
std::string BindToCores(const std::vector<int>& cores) {
  if (cores.empty()) return "";
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cores) CPU_SET(c, &set);
  const int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  if (rc == 0) return "";
  std::string list;
  for (int c : cores) list += (list.empty() ? "" : ",") + std::to_string(c);
  return "binding the instance thread to CPU cores [" + list + "] failed: " + std::strerror(rc) +
         (rc == EINVAL ? " (none of them is a core this process may run on)" : "");
#else
  return "binding instance threads to CPU cores (host policy cpu-cores) is only supported on Linux";
#endif
}

}  // namespace

void InstanceCore::ThreadMain() {
  // Thread names are limited to 15 characters; the instance name identifies it in top/gdb/nsys.
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());

  std::string initError = BindToCores(cpuCores_);
  if (initError.empty()) try {
    executor_->Init();
  } catch (const std::exception& e) {
    initError = e.what();
  } catch (...) {
    initError = "unknown error while initialising the instance";
  }
  if (!initError.empty()) {
    executor_->Shutdown();
    tsfn_.Release();
    std::lock_guard<std::mutex> lock(mu_);
    initError_ = initError;
    initDone_ = true;
    cv_.notify_all();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    initDone_ = true;
  }
  cv_.notify_all();

  Job* closeJob = nullptr;
  bool deliveryFailed = false;
  for (;;) {
    Job* job = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return abort_ || !queue_.empty(); });
      if (abort_) break;
      job = queue_.front();
      queue_.pop_front();
    }
    if (job->isClose) {
      closeJob = job;
      break;
    }
    RunJob(*executor_, *job);
    if (tsfn_.NonBlockingCall(job) != napi_ok) {
      // The environment is shutting down: nobody is left to receive results. The job (holding JS
      // references that can only be freed on the JS thread) is abandoned with the environment.
      deliveryFailed = true;
      break;
    }
  }

  executor_->Shutdown();
  if (closeJob != nullptr && !deliveryFailed) {
    if (tsfn_.NonBlockingCall(closeJob) != napi_ok) deliveryFailed = true;
  }
  bool aborted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    aborted = abort_;
  }
  if (!deliveryFailed && !aborted) tsfn_.Release();
}

void InstanceCore::Enqueue(Job* job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(job);
  }
  cv_.notify_one();
}

void InstanceCore::Submit(Napi::Env env, std::unique_ptr<Job> job) {
  job->holdsLoop = true;
  if (inFlight_++ == 0) tsfn_.Ref(env);
  job->enqueuedNs = MonotonicNs();
  Enqueue(job.release());
}

void InstanceCore::RunInline(Job& job) {
  job.enqueuedNs = MonotonicNs();
  RunJob(*executor_, job);
}

void InstanceCore::WriteTimings(const Job& job, double* out) {
  out[0] = static_cast<double>(job.timings.computeInputNs);
  out[1] = static_cast<double>(job.timings.computeInferNs);
  out[2] = static_cast<double>(job.timings.computeOutputNs);
  out[3] = static_cast<double>(job.startNs - job.enqueuedNs);
  out[4] = static_cast<double>(job.startNs);
  out[5] = static_cast<double>(job.endNs);
}

void InstanceCore::Close(Napi::Env env, napi_deferred deferred) {
  if (closed_) {
    if (deferred != nullptr) napi_resolve_deferred(env, deferred, env.Undefined());
    return;
  }
  if (deferred != nullptr) closeWaiters_.push_back(deferred);
  if (closing_) return;
  closing_ = true;
  auto job = std::make_unique<Job>();
  job->isClose = true;
  job->holdsLoop = true;
  if (inFlight_++ == 0) tsfn_.Ref(env);
  Enqueue(job.release());
}

void InstanceCore::CloseFromFinalizer() {
  if (closing_) return;
  closing_ = true;
  auto job = std::make_unique<Job>();
  job->isClose = true;
  Enqueue(job.release());
}

void DeliverJob(Napi::Env env, Napi::Function, InstanceCore* core, Job* job) {
  if (env == nullptr) return;  // environment teardown: see ThreadMain
  Napi::HandleScope scope(env);
  core->Settle(env, job);
  const bool holdsLoop = job->holdsLoop;
  delete job;
  if (holdsLoop && --core->inFlight_ == 0) core->tsfn_.Unref(env);
}

void InstanceCore::Settle(Napi::Env env, Job* job) {
  for (napi_ref ref : job->keepAlive) napi_delete_reference(env, ref);
  job->keepAlive.clear();

  if (job->isClose) {
    closed_ = true;
    for (napi_deferred d : closeWaiters_) napi_resolve_deferred(env, d, env.Undefined());
    closeWaiters_.clear();
    return;
  }
  if (job->ok) {
    static_assert(kResultKeyCount == kTimingCount, "one property per timing");
    double values[kTimingCount];
    WriteTimings(*job, values);
    napi_value keys;
    napi_value result;
    napi_get_reference_value(env, resultKeys_, &keys);
    napi_create_object(env, &result);
    for (int i = 0; i < kResultKeyCount; ++i) {
      napi_value key;
      napi_value value;
      napi_get_element(env, keys, static_cast<uint32_t>(i), &key);
      napi_create_double(env, values[i], &value);
      napi_set_property(env, result, key, value);
    }
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    Napi::Error error = Napi::Error::New(env, "execute(\"" + name_ + "\") failed: " + job->error);
    error.Set("code", Napi::String::New(env, "ERR_IAAS_EXECUTE_FAILED"));
    napi_reject_deferred(env, job->deferred, error.Value());
  }
}

void InstanceCore::Finalize(Napi::Env env, std::shared_ptr<InstanceCore>* self, InstanceCore* core) {
  if (core->resultKeys_ != nullptr && env != nullptr) napi_delete_reference(env, core->resultKeys_);
  core->resultKeys_ = nullptr;
  {
    // Reached after a normal close (the thread is exiting) or at environment teardown (tell it to stop
    // after its current job; the thread-safe function stays valid until this returns).
    std::lock_guard<std::mutex> lock(core->mu_);
    core->abort_ = true;
  }
  core->cv_.notify_all();
  if (core->thread_.joinable()) core->thread_.join();
  delete self;
}

}  // namespace iaas
