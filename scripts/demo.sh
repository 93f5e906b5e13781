#!/bin/sh
# The main job on the bundled example model: convert a Hugging Face folder (BF16, two shards)
# to Q4_K_M, install it into a local Ollama models folder (./demo-models), list and inspect it.
set -e
cd "$(dirname "$0")/.."
node dist/cli/main.js convert examples/llama3-tiny -q Q4_K_M --install tiny-llama3:q4_K_M --models-dir demo-models
node dist/cli/main.js list --models-dir demo-models
node dist/cli/main.js inspect tiny-llama3:q4_K_M --models-dir demo-models
