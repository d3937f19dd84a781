// Read-only dense_mlp weights shared by the CPU instances that were created with identical layers (the
// instances of one model get the same generated weights). Each instance used to keep its own copy: with
// two instances the kernels streamed two 5.3 MB copies of dense_mlp's weights through the shared L3 cache,
// one copy between them halves that and lets one instance's reads warm the cache for the other
// (bench/README.md, scheduling section). The weights never change after creation, so sharing changes no result.
#pragma once

#include <memory>
#include <vector>

#include "instance_config.h"

namespace iaas {

using SharedDenseLayers = std::shared_ptr<const std::vector<DenseLayer>>;

// The live set equal to `layers` (same shapes, bit-identical weights and biases) if one exists, else a new
// set copied from `layers`. Thread-safe; a set is freed when its last instance lets go of it.
SharedDenseLayers ShareDenseLayers(const std::vector<DenseLayer>& layers);

}  // namespace iaas
