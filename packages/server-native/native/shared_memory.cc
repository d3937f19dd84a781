#include "shared_memory.h"

// From packages/client/native (on the include path, see scripts/build-addon.mjs).
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

namespace iaas {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;

using iaas_posix_shm::ThrowErrno;

uint64_t ParseSize(Napi::Env env, Napi::Value v, const char* name, bool positive) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("mapSharedMemory: ") + name + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= (positive ? 1 : 0)) || d != std::floor(d) || d > kMaxSafeInteger) {
    throw Napi::RangeError::New(env, std::string("mapSharedMemory: ") + name + " must be an integer " +
                                         (positive ? "of at least 1" : "of at least 0") + ", got " + v.ToString().Utf8Value());
  }
  return static_cast<uint64_t>(d);
}

}  // namespace

Napi::Value MapSharedMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "mapSharedMemory: key must be a string");
  const std::string key = info[0].As<Napi::String>().Utf8Value();
  if (key.empty() || key.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(env, "mapSharedMemory: key must be a non-empty string without NUL characters");
  }
  const uint64_t offset = ParseSize(env, info[1], "offset", false);
  const uint64_t byteSize = ParseSize(env, info[2], "byteSize", true);

  const auto [fd, objectSize] = iaas_posix_shm::OpenExisting(env, key);
  if (offset > objectSize || byteSize > objectSize - offset) {
    close(fd);
    Napi::Error error = Napi::RangeError::New(
        env, "offset " + std::to_string(offset) + " + byte_size " + std::to_string(byteSize) + " exceeds the " +
                 std::to_string(objectSize) + " bytes of shared memory object '" + key + "'");
    error.Set("code", Napi::String::New(env, "ERR_IAAS_SHM_RANGE"));
    error.Set("objectSize", Napi::Number::New(env, static_cast<double>(objectSize)));
    throw error;
  }

  // mmap offsets must be page aligned: map from the page holding `offset` and expose the bytes from it.
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t alignedOffset = offset - offset % page;
  const size_t length = static_cast<size_t>(offset - alignedOffset + byteSize);
  void* base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(alignedOffset));
  const int mapErr = errno;
  close(fd);
  if (base == MAP_FAILED) ThrowErrno(env, "cannot map shared memory object '" + key + "'", mapErr);

  void* data = static_cast<uint8_t*>(base) + (offset - alignedOffset);
  iaas_posix_shm::MappedBuffer mapped =
      iaas_posix_shm::WrapMapping(env, base, length, data, static_cast<size_t>(byteSize));

  Napi::Object result = Napi::Object::New(env);
  result.Set("buffer", mapped.buffer);
  result.Set("objectSize", Napi::Number::New(env, static_cast<double>(objectSize)));
  result.Set("unmap", mapped.unmap);
  return result;
}

}  // namespace iaas
