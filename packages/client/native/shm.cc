// POSIX shared memory for @iaas/client/shm: create, open and unlink shared-memory objects and map them
// into the process as external ArrayBuffers. See src/shm/addon.ts for the contract.
#include <napi.h>

#include "shm_mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace iaas_shm {
namespace {

using iaas_posix_shm::ThrowErrno;

constexpr double kMaxSafeInteger = 9007199254740991.0;

std::string Key(const Napi::CallbackInfo& info, const char* fn) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": key must be a string");
  std::string key = info[0].As<Napi::String>().Utf8Value();
  if (key.empty() || key.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": key must be a non-empty string without NUL characters");
  }
  return key;
}

uint64_t ByteSize(Napi::Env env, Napi::Value v, const char* fn) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(fn) + ": byteSize must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 1) || d != std::floor(d) || d > kMaxSafeInteger) {
    throw Napi::RangeError::New(env, std::string(fn) + ": byteSize must be an integer of at least 1, got " + v.ToString().Utf8Value());
  }
  return static_cast<uint64_t>(d);
}

// Maps the whole object behind `fd` (closing it) and returns { buffer, byteSize, unmap }.
Napi::Object MapWhole(Napi::Env env, int fd, size_t length, const std::string& key) {
  void* base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int mapErr = errno;
  close(fd);
  if (base == MAP_FAILED) ThrowErrno(env, "cannot map shared memory object '" + key + "'", mapErr);

  iaas_posix_shm::MappedBuffer mapped = iaas_posix_shm::WrapMapping(env, base, length, base, length);
  Napi::Object result = Napi::Object::New(env);
  result.Set("buffer", mapped.buffer);
  result.Set("byteSize", Napi::Number::New(env, static_cast<double>(length)));
  result.Set("unmap", mapped.unmap);
  return result;
}

// create(key, byteSize, exclusive): creates (or, not exclusive, opens and resizes) and maps the object.
Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string key = Key(info, "create");
  const uint64_t byteSize = ByteSize(env, info[1], "create");
  const bool exclusive = info[2].ToBoolean().Value();
  const int fd = shm_open(key.c_str(), O_RDWR | O_CREAT | (exclusive ? O_EXCL : 0), S_IRUSR | S_IWUSR);
  if (fd < 0) ThrowErrno(env, "cannot create shared memory object '" + key + "'", errno);
  if (ftruncate(fd, static_cast<off_t>(byteSize)) != 0) {
    const int err = errno;
    close(fd);
    if (exclusive) shm_unlink(key.c_str());
    ThrowErrno(env, "cannot size shared memory object '" + key + "' to " + std::to_string(byteSize) + " bytes", err);
  }
  try {
    return MapWhole(env, fd, static_cast<size_t>(byteSize), key);
  } catch (...) {
    if (exclusive) shm_unlink(key.c_str());
    throw;
  }
}

// open(key): maps an existing object whole.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string key = Key(info, "open");
  const auto [fd, size] = iaas_posix_shm::OpenExisting(env, key);
  if (size == 0) {
    close(fd);
    Napi::Error error = Napi::Error::New(env, "shared memory object '" + key + "' is empty (0 bytes); nothing to map");
    error.Set("code", Napi::String::New(env, "ERR_IAAS_SHM_EMPTY"));
    throw error;
  }
  return MapWhole(env, fd, static_cast<size_t>(size), key);
}

// unlink(key): true when removed, false when there was no such object.
Napi::Value Unlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string key = Key(info, "unlink");
  if (shm_unlink(key.c_str()) == 0) return Napi::Boolean::New(env, true);
  if (errno == ENOENT) return Napi::Boolean::New(env, false);
  ThrowErrno(env, "cannot unlink shared memory object '" + key + "'", errno);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("create", Napi::Function::New<Create>(env, "create"));
  exports.Set("open", Napi::Function::New<Open>(env, "open"));
  exports.Set("unlink", Napi::Function::New<Unlink>(env, "unlink"));
  return exports;
}

}  // namespace
}  // namespace iaas_shm

static Napi::Object InitIaasShm(Napi::Env env, Napi::Object exports) { return iaas_shm::Init(env, exports); }

NODE_API_MODULE(iaas_shm, InitIaasShm)
