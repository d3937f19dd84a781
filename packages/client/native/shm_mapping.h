// An mmap of a POSIX shared-memory object exposed to JS as an external ArrayBuffer plus an unmap()
// function. Shared by the client's shm addon (native/shm.cc) and the server's system_shared_memory
// extension (packages/server-native/native/shared_memory.cc, whose build adds this directory to its
// include path), so both free mappings and report errno the same way. Header-only: each addon compiles
// it into its own hidden-visibility binary.
#pragma once

#include <napi.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace iaas_posix_shm {

// One mmap. Whichever comes first of unmap() and the collection of the ArrayBuffer over it does the
// munmap; the other finds it done. Both run on the JS thread.
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

inline const char* ErrnoCode(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case ENOSPC: return "ENOSPC";
    case EFBIG: return "EFBIG";
    case ENODEV: return "ENODEV";
    default: return "ERR_IAAS_SHM_SYSTEM";
  }
}

// Throws `message: strerror(err)` with the errno name as `code` and the number as `errno`.
[[noreturn]] inline void ThrowErrno(Napi::Env env, const std::string& message, int err) {
  Napi::Error error = Napi::Error::New(env, message + ": " + std::strerror(err));
  error.Set("code", Napi::String::New(env, ErrnoCode(err)));
  error.Set("errno", Napi::Number::New(env, err));
  throw error;
}

struct OpenObject {
  int fd;
  uint64_t size;
};

// Opens an existing object read-write and reads its size; the caller owns (and closes) the descriptor.
inline OpenObject OpenExisting(Napi::Env env, const std::string& key) {
  const int fd = shm_open(key.c_str(), O_RDWR, 0);
  if (fd < 0) ThrowErrno(env, "cannot open shared memory object '" + key + "'", errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    ThrowErrno(env, "cannot stat shared memory object '" + key + "'", err);
  }
  return {fd, st.st_size < 0 ? 0 : static_cast<uint64_t>(st.st_size)};
}

struct MappedBuffer {
  Napi::ArrayBuffer buffer;
  Napi::Function unmap;
};

// Takes ownership of the mmap [base, base + length) and exposes [data, data + dataLength) inside it. On
// a throw the mapping is already released.
inline MappedBuffer WrapMapping(Napi::Env env, void* base, size_t length, void* data, size_t dataLength) {
  auto mapping = std::make_shared<Mapping>();
  mapping->base = base;
  mapping->length = length;
  auto* hint = new std::shared_ptr<Mapping>(mapping);
  Napi::ArrayBuffer buffer;
  try {
    buffer = Napi::ArrayBuffer::New(
        env, data, dataLength,
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
  struct UnmapState {
    std::shared_ptr<Mapping> mapping;
    Napi::Reference<Napi::ArrayBuffer> buffer;  // weak: does not keep the buffer alive
  };
  auto state = std::make_shared<UnmapState>();
  state->mapping = mapping;
  state->buffer = Napi::Weak(buffer);
  // Detaching first empties every JS view of the buffer, so a stale view reads nothing instead of
  // touching unmapped memory.
  Napi::Function unmap = Napi::Function::New(
      env,
      [state](const Napi::CallbackInfo&) {
        if (!state->mapping->mapped) return;
        Napi::ArrayBuffer ab = state->buffer.Value();
        if (!ab.IsEmpty() && !ab.IsDetached()) ab.Detach();
        state->mapping->Unmap();
      },
      "unmap");
  return {buffer, unmap};
}

}  // namespace iaas_posix_shm
