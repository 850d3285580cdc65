"""Reward families that call inference servers' own reward APIs: ``vllm:`` (`vllm_api`) and ``sglang:``
(`sglang_api`). Shared options, tokenisation and HTTP are in `common`; docs/inference_servers.md."""
