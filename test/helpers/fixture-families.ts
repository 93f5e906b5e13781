/** The chat-template family of each shared fixture (../shared/fixtures/hf), as Ollama's library names it. */
export const FIXTURE_TEMPLATE_FAMILY: Readonly<Record<string, string>> = {
  "gemma2-tiny": "gemma2",
  "llama2-spm": "llama2",
  "llama3-tiny": "llama3",
  "mistral-tiny": "mistral",
  "phi3-tiny": "phi3",
  "qwen2-tiny": "qwen2",
  "qwen3-realtok": "qwen3",
};
