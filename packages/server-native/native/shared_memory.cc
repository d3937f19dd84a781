#include "shared_memory.h"

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

// One mmap of a shared-memory object. Whichever comes first of unmap() and the collection of the
// ArrayBuffer over it does the munmap; the other finds it done. Both run on the JS thread.
struct Mapping {
  void* base = nullptr;
  size_t length = 0;
  bool mapped = true;

  void Unmap() {
    if (!mapped) return;
    munmap(base, length);
    mapped = false;
  }
};

struct UnmapState {
  std::shared_ptr<Mapping> mapping;
  Napi::Reference<Napi::ArrayBuffer> buffer;  // weak: does not keep the buffer alive
};

const char* ErrnoCode(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case ENODEV: return "ENODEV";
    default: return "ERR_IAAS_SHM_SYSTEM";
  }
}

[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& message, int err) {
  Napi::Error error = Napi::Error::New(env, message + ": " + std::strerror(err));
  error.Set("code", Napi::String::New(env, ErrnoCode(err)));
  error.Set("errno", Napi::Number::New(env, err));
  throw error;
}

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

  const int fd = shm_open(key.c_str(), O_RDWR, 0);
  if (fd < 0) ThrowErrno(env, "cannot open shared memory object '" + key + "'", errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    ThrowErrno(env, "cannot stat shared memory object '" + key + "'", err);
  }
  const uint64_t objectSize = st.st_size < 0 ? 0 : static_cast<uint64_t>(st.st_size);
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

  auto mapping = std::make_shared<Mapping>();
  mapping->base = base;
  mapping->length = length;
  void* data = static_cast<uint8_t*>(base) + (offset - alignedOffset);

  auto* hint = new std::shared_ptr<Mapping>(mapping);
  Napi::ArrayBuffer buffer;
  try {
    buffer = Napi::ArrayBuffer::New(
        env, data, static_cast<size_t>(byteSize),
        [](Napi::Env, void*, std::shared_ptr<Mapping>* finalized) {
          (*finalized)->Unmap();
          delete finalized;
        },
        hint);
  } catch (...) {
    delete hint;
    mapping->Unmap();
    throw;
  }

  auto state = std::make_shared<UnmapState>();
  state->mapping = mapping;
  state->buffer = Napi::Weak(buffer);
  // Detaching first empties every JS view of the buffer, so a stale view reads nothing instead of
  // touching unmapped memory.
  Napi::Function unmap = Napi::Function::New(
      env,
      [state](const Napi::CallbackInfo& call) {
        if (!state->mapping->mapped) return;
        Napi::ArrayBuffer ab = state->buffer.Value();
        if (!ab.IsEmpty() && !ab.IsDetached()) ab.Detach();
        state->mapping->Unmap();
      },
      "unmap");

  Napi::Object result = Napi::Object::New(env);
  result.Set("buffer", buffer);
  result.Set("objectSize", Napi::Number::New(env, static_cast<double>(objectSize)));
  result.Set("unmap", unmap);
  return result;
}

}  // namespace iaas
