// execute(request) validation on the JS thread: checks buffer counts and byte lengths against the instance's
// kernel, so the instance thread only ever touches memory it was shown to own.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "executor.h"
#include "instance_config.h"

namespace iaas {

struct ParsedRequest {
  ExecuteBuffers buffers;
  std::vector<napi_value> views;  // every input and output view, to be kept alive while the job runs
};

// Throws Napi::TypeError / Napi::RangeError naming the offending field; messages start with `prefix`.
ParsedRequest ParseExecuteRequest(Napi::Env env, const InstanceConfig& config, const std::string& prefix,
                                  Napi::Value request);

}  // namespace iaas
