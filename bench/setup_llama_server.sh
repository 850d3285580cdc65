#!/usr/bin/env bash
# Build llama.cpp's C++ `llama-server` (continuous batching over --parallel slots) from the llama.cpp sources
# vendored in the llama-cpp-python sdist on PyPI, CPU backend only, for bench/judge_throughput.py
# --llama-server-bin. ~10 min on 2 cores. Prints the binary's path last.
#   bash bench/setup_llama_server.sh [DEST]   (default ~/.cache/rewardlab/llama-server)
set -euo pipefail
DEST=${1:-$HOME/.cache/rewardlab/llama-server}
VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
PYTHON=${PYTHON:-python3}
if [ -x "$DEST/bin/llama-server" ]; then echo "$DEST/bin/llama-server"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$work"
tar xzf "$work"/llama_cpp_python-"$VERSION".tar.gz -C "$work"
src="$work/llama_cpp_python-$VERSION/vendor/llama.cpp"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_CUDA=OFF -DGGML_BLAS=OFF -DLLAMA_CURL=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF >/dev/null
cmake --build "$work/build" --target llama-server -j "${CMAKE_BUILD_PARALLEL_LEVEL:-2}" >/dev/null
mkdir -p "$DEST/bin"
cp "$work/build/bin/llama-server" "$DEST/bin/llama-server"
echo "$DEST/bin/llama-server"
