#pragma once

#include <memory>

#include "executor.h"
#include "instance_config.h"

namespace iaas {

std::unique_ptr<Executor> MakeCpuExecutor(const InstanceConfig& config);

}  // namespace iaas
