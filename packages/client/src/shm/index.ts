// @iaas/client/shm: POSIX shared-memory regions for Triton's system_shared_memory extension (needs the
// client's native addon; see SHM_ADDON_PATH). The main entry point never loads it.
export {
  SharedMemoryRegion,
  createSharedMemoryRegion,
  openSharedMemoryRegion,
  unlinkSharedMemory,
  type CreateSharedMemoryOptions,
  type ReadTensorOptions,
} from "./region.ts";
export { SHM_ADDON_PATH, isSharedMemoryAvailable } from "./addon.ts";
