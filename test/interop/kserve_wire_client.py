#!/usr/bin/env python3
"""A third-party KServe v2 client built on Python's own HTTP stack and gRPC C-core.

tritonclient cannot be installed here (no PyPI), so this script reproduces the requests tritonclient
sends, byte for byte where it matters, with independent implementations of both transports:
  HTTP: http.client; JSON and binary-extension bodies with no Content-Type header (as tritonclient),
        Inference-Header-Content-Length, binary_data_size / binary_data, binary_data_output.
  gRPC: grpcio (gRPC C-core) with messages compiled by protoc from the KServe v2 protos, raw_input_contents.
Usage: kserve_wire_client.py HTTP_HOST:PORT GRPC_HOST:PORT PB2_DIR
Prints one line per check and exits non-zero on the first failure.
"""
import http.client
import json
import struct
import sys

import grpc


def check(cond, what):
    if not cond:
        print(f"FAIL {what}")
        sys.exit(1)
    print(f"ok {what}")


def http_checks(host):
    conn = http.client.HTTPConnection(host, timeout=10)

    def request(method, path, body=None, headers=None):
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()

    status, _, _ = request("GET", "/v2/health/live")
    check(status == 200, "http live")
    status, _, _ = request("GET", "/v2/health/ready")
    check(status == 200, "http ready")
    status, _, body = request("GET", "/v2")
    meta = json.loads(body)
    check(status == 200 and isinstance(meta.get("extensions"), list), "http server metadata")
    status, _, body = request("GET", "/v2/models/simple")
    meta = json.loads(body)
    names = sorted(t["name"] for t in meta["inputs"])
    check(status == 200 and names == ["INPUT0", "INPUT1"] and meta["inputs"][0]["shape"] == [-1, 16], "http model metadata")
    status, _, _ = request("GET", "/v2/models/simple/ready")
    check(status == 200, "http model ready")

    a = list(range(16))
    b = [1] * 16
    # JSON tensors, JSON outputs (tritonclient with binary_data=False)
    req = {
        "inputs": [
            {"name": "INPUT0", "shape": [1, 16], "datatype": "INT32", "data": a},
            {"name": "INPUT1", "shape": [1, 16], "datatype": "INT32", "data": b},
        ],
        "outputs": [
            {"name": "OUTPUT0", "parameters": {"binary_data": False}},
            {"name": "OUTPUT1", "parameters": {"binary_data": False}},
        ],
    }
    status, _, body = request("POST", "/v2/models/simple/infer", json.dumps(req).encode())
    out = {o["name"]: o for o in json.loads(body)["outputs"]}
    check(status == 200 and out["OUTPUT0"]["data"] == [x + y for x, y in zip(a, b)]
          and out["OUTPUT1"]["data"] == [x - y for x, y in zip(a, b)], "http infer json")

    # Binary extension both ways, no Content-Type header (tritonclient's default for binary inputs)
    raw0 = struct.pack("<16i", *a)
    raw1 = struct.pack("<16i", *b)
    header = {
        "inputs": [
            {"name": "INPUT0", "shape": [1, 16], "datatype": "INT32", "parameters": {"binary_data_size": len(raw0)}},
            {"name": "INPUT1", "shape": [1, 16], "datatype": "INT32", "parameters": {"binary_data_size": len(raw1)}},
        ],
        "outputs": [
            {"name": "OUTPUT0", "parameters": {"binary_data": True}},
            {"name": "OUTPUT1", "parameters": {"binary_data": True}},
        ],
    }
    hjson = json.dumps(header).encode()
    status, headers, body = request("POST", "/v2/models/simple/infer", hjson + raw0 + raw1,
                                    {"Inference-Header-Content-Length": str(len(hjson))})
    hlen = int({k.lower(): v for k, v in headers.items()}["inference-header-content-length"])
    rh = json.loads(body[:hlen])
    off = hlen
    values = {}
    for o in rh["outputs"]:
        n = o["parameters"]["binary_data_size"]
        values[o["name"]] = list(struct.unpack(f"<{n // 4}i", body[off:off + n]))
        off += n
    check(status == 200 and off == len(body) and values["OUTPUT0"] == [x + y for x, y in zip(a, b)]
          and values["OUTPUT1"] == [x - y for x, y in zip(a, b)], "http infer binary")

    # No outputs requested + binary_data_output (what tritonclient sends when outputs=None)
    header = {"inputs": header["inputs"], "parameters": {"binary_data_output": True}}
    hjson = json.dumps(header).encode()
    status, headers, body = request("POST", "/v2/models/simple/infer", hjson + raw0 + raw1,
                                    {"Inference-Header-Content-Length": str(len(hjson))})
    hlen = int({k.lower(): v for k, v in headers.items()}["inference-header-content-length"])
    rh = json.loads(body[:hlen])
    check(status == 200 and sorted(o["name"] for o in rh["outputs"]) == ["OUTPUT0", "OUTPUT1"]
          and all("binary_data_size" in o["parameters"] for o in rh["outputs"]), "http infer binary_data_output")

    status, _, body = request("POST", "/v2/models/nonexistent/infer", json.dumps(req).encode())
    check(status == 404 and "error" in json.loads(body), "http unknown model error")


def grpc_checks(target, pb2_dir):
    sys.path.insert(0, pb2_dir)
    import grpc_service_pb2 as pb  # noqa: E402  (compiled at test time by protoc)

    channel = grpc.insecure_channel(target)

    def unary(name, req, resp_cls):
        fn = channel.unary_unary(f"/inference.GRPCInferenceService/{name}",
                                 request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=resp_cls.FromString)
        return fn(req, timeout=10)

    check(unary("ServerLive", pb.ServerLiveRequest(), pb.ServerLiveResponse).live, "grpc live")
    check(unary("ServerReady", pb.ServerReadyRequest(), pb.ServerReadyResponse).ready, "grpc ready")
    meta = unary("ServerMetadata", pb.ServerMetadataRequest(), pb.ServerMetadataResponse)
    check(meta.name != "", "grpc server metadata")
    mm = unary("ModelMetadata", pb.ModelMetadataRequest(name="simple"), pb.ModelMetadataResponse)
    check(sorted(t.name for t in mm.inputs) == ["INPUT0", "INPUT1"] and list(mm.inputs[0].shape) == [-1, 16],
          "grpc model metadata")
    check(unary("ModelReady", pb.ModelReadyRequest(name="simple"), pb.ModelReadyResponse).ready, "grpc model ready")

    a = list(range(16))
    b = [2] * 16
    req = pb.ModelInferRequest(model_name="simple")
    for name in ("INPUT0", "INPUT1"):
        t = req.inputs.add()
        t.name = name
        t.datatype = "INT32"
        t.shape.extend([1, 16])
    for name in ("OUTPUT0", "OUTPUT1"):
        req.outputs.add().name = name
    req.raw_input_contents.append(struct.pack("<16i", *a))
    req.raw_input_contents.append(struct.pack("<16i", *b))
    resp = unary("ModelInfer", req, pb.ModelInferResponse)
    outs = {o.name: i for i, o in enumerate(resp.outputs)}
    s = list(struct.unpack("<16i", resp.raw_output_contents[outs["OUTPUT0"]]))
    d = list(struct.unpack("<16i", resp.raw_output_contents[outs["OUTPUT1"]]))
    check(s == [x + y for x, y in zip(a, b)] and d == [x - y for x, y in zip(a, b)], "grpc infer raw")

    try:
        unary("ModelInfer", pb.ModelInferRequest(model_name="nonexistent"), pb.ModelInferResponse)
        check(False, "grpc unknown model error")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.NOT_FOUND, "grpc unknown model error")


if __name__ == "__main__":
    http_checks(sys.argv[1])
    grpc_checks(sys.argv[2], sys.argv[3])
    print("interop: all checks passed")
