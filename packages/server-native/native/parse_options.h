// createInstance(options) validation: JS object -> InstanceConfig. Throws Napi::TypeError / Napi::RangeError
// whose message names the offending field.
#pragma once

#include <napi.h>

#include "instance_config.h"

namespace iaas {

InstanceConfig ParseInstanceOptions(Napi::Env env, Napi::Value options);

}  // namespace iaas
