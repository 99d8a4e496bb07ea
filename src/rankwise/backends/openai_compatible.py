"""A language model behind an OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, hosted APIs),
through `/v1/completions`.

Prompts are built and tokenized here with the model's own tokenizer (the registered model's, or the folder or
Hugging Face id given as the model), then sent as text; the server tokenizes them again the same way.
- generate: greedy completion (`temperature=0`).
- next-token log-probs: one token of completion with `logprobs=top_logprobs`. The server returns only its
  top `top_logprobs` tokens, so a log-prob is exact only for a token among them: when a requested token
  is missing, the call fails with an error that names the token and the setting to raise. The backend
  never substitutes a bound or falls back to generation. A server that returns the whole vocabulary
  (llama.cpp's accepts any `top_logprobs`) is exact for FIRST and yes/no alike.
- the bridged first token (FIRST's "[" then the letter) costs one more request, with the bridge appended.
- continuation log-probs (query likelihood) are refused: see `continuation_logprobs`.

Requests run `concurrency` at a time. Each has a `request_timeout`. A connection error, a 429 or a 5xx is
retried up to `max_retries` times with exponential backoff, and a `Retry-After` header is honoured.
`base_url` and `api_key` come from the options, else from $OPENAI_BASE_URL and $OPENAI_API_KEY."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from rankwise.backends.chat_tokenizer import ChatTokenizer, PromptEncoding
from rankwise.backends.interface import Capability
from rankwise.backends.options import OpenAIOptions
from rankwise.cancellation import carried, check_cancelled
from rankwise.errors import ModelNotAvailableError, OptionError, UnsupportedMethodError
from rankwise.models.resolve import ModelLocation

if TYPE_CHECKING:
    import numpy as np

RETRY_STATUSES = {429, 500, 502, 503, 504}
DEFAULT_CONTEXT = 8192


class ServerError(ModelNotAvailableError):
    """The server failed, or kept failing after the retries."""


class OpenAICompatibleLM(PromptEncoding):
    backend_name = "openai"
    capabilities = frozenset(
        {
            Capability.TOKENIZE,
            Capability.NEXT_TOKEN_LOGPROBS,
            Capability.BRIDGED_FIRST_TOKEN,
            Capability.GENERATE,
            Capability.TOP_LOGPROBS,
        }
    )

    def __init__(self, location: ModelLocation, options: OpenAIOptions, needs: frozenset[Capability] = frozenset()):
        import httpx

        base_url = options.base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise OptionError(
                "the openai backend needs the server's address: base_url=http://host:port/v1 (or $OPENAI_BASE_URL)"
            )
        self.options = options
        self.served_model = options.served_model or location.label
        self.max_length = options.max_length or DEFAULT_CONTEXT
        self.text = ChatTokenizer.load(location.path, location.label)
        self.text.truncate = options.truncate
        key = options.api_key or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=options.request_timeout,
            limits=httpx.Limits(max_connections=options.concurrency),
        )
        self._pool = ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="rankwise-openai")

    # -- HTTP ---------------------------------------------------------------------------------------
    def _complete(self, prompt: str, **fields: Any) -> dict[str, Any]:
        import httpx

        body = {"model": self.served_model, "prompt": prompt, "temperature": 0, **fields}
        attempt = 0
        while True:
            check_cancelled()
            try:
                response = self._client.post("/completions", json=body)
            except httpx.TransportError as e:
                problem, wait = f"{type(e).__name__}: {e}", None
            else:
                if response.status_code == 200:
                    return response.json()
                if response.status_code not in RETRY_STATUSES:
                    raise ServerError(
                        f"{self._client.base_url}/completions answered {response.status_code}: {response.text[:300]}"
                    )
                problem, wait = f"status {response.status_code}", _retry_after(response)
            if attempt >= self.options.max_retries:
                raise ServerError(
                    f"{self._client.base_url}/completions failed after {attempt + 1} attempts ({problem})"
                )
            time.sleep(wait if wait is not None else 0.5 * 2**attempt)
            attempt += 1

    def _map(self, function: Any, items: Sequence[Any]) -> list[Any]:
        check_cancelled()
        return list(self._pool.map(carried(function), items))

    def default_prefix_ids(self) -> list[int]:
        return []  # prompts go as text, and the server's tokenizer adds its own defaults

    def _prompt(self, ids: Sequence[int]) -> str:
        self._check_length(ids)
        return self.text.decode(ids)

    # -- primitives ---------------------------------------------------------------------------------
    def next_token_logprobs(self, sequences: Sequence[Sequence[int]], token_ids: Sequence[int]) -> np.ndarray:
        import numpy as np

        wanted = [self.text.decode([t]) for t in token_ids]

        def one(ids: Sequence[int]) -> list[float]:
            reply = self._complete(self._prompt(ids), max_tokens=1, logprobs=self.options.top_logprobs)
            top = _top_logprobs(reply)
            missing = [w for w in wanted if w not in top]
            if missing:
                raise UnsupportedMethodError(
                    f"the server returned the log-probs of its top {self.options.top_logprobs} tokens only, and "
                    f"{', '.join(map(repr, missing))} was not among them, so this method's scores cannot be exact "
                    "on it; raise -O top_logprobs= (llama.cpp's server accepts the vocabulary size) or use a "
                    "backend that exposes full log-probs"
                )
            return [top[w] for w in wanted]

        return np.array(self._map(one, sequences), dtype=np.float64).reshape(len(sequences), len(token_ids))

    def next_token_top_logprobs(self, sequences: Sequence[Sequence[int]], k: int) -> list[dict[str, float]]:
        # The server's own dictionary, as the authors of methods read from it (TFRank: `logprobs=20`).
        return self._map(
            lambda ids: _top_logprobs(self._complete(self._prompt(ids), max_tokens=1, logprobs=k)), sequences
        )

    def first_token_logprobs(
        self,
        sequences: Sequence[Sequence[int]],
        first_ids: Sequence[int],
        bridge_id: int | None = None,
        second_ids: Sequence[int] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        first = self.next_token_logprobs(sequences, first_ids)
        if bridge_id is None:
            return first, np.zeros((len(sequences), 0))
        second = self.next_token_logprobs([list(s) + [bridge_id] for s in sequences], second_ids)
        return first, second

    def continuation_logprobs(
        self, prefixes: Sequence[Sequence[int]], continuations: Sequence[Sequence[int]]
    ) -> list[np.ndarray]:
        # The API's only route to prompt log-probs is the legacy `echo` + `logprobs`, which servers implement
        # unevenly: llama-cpp-python's returns them one position off (the distribution after token i is
        # reported as token i's), so a score built on it would be silently wrong.
        raise UnsupportedMethodError(
            "the openai backend does not offer continuation log-probs (query likelihood): "
            "OpenAI-compatible servers have no reliable way to return prompt log-probs; "
            "use backend='transformers' or backend='llama.cpp'"
        )

    def generate(
        self, sequences: Sequence[Sequence[int]], max_new_tokens: int, stop_ids: Sequence[int] = ()
    ) -> list[list[int]]:
        kept = set(stop_ids)

        def one(ids: Sequence[int]) -> list[int]:
            reply = self._complete(self._prompt(ids), max_tokens=max_new_tokens)
            produced = self.text.encode(reply["choices"][0]["text"])
            # Servers report stop strings inconsistently: the whole budget is asked for and cut here.
            stop = next((i for i, token in enumerate(produced) if token in kept), None)
            return produced if stop is None else produced[: stop + 1]

        return self._map(one, sequences)


def _top_logprobs(reply: dict[str, Any]) -> dict[str, float]:
    """{token text: log-prob} of the first completion position, from the legacy completions shape."""
    try:
        logprobs = reply["choices"][0]["logprobs"]
        if not logprobs["top_logprobs"]:
            # llama-cpp-python's server reports nothing when the first token ends the turn.
            raise ServerError(
                "the server returned no log-probs for this position (its completion stopped at once, "
                "at the end of the model's turn), so they cannot be read through it; use "
                "backend='llama.cpp' or backend='transformers' on the same weights"
            )
        return {str(k): float(v) for k, v in logprobs["top_logprobs"][0].items()}
    except (KeyError, IndexError, TypeError) as e:
        raise ServerError(f"the server's completion has no top log-probs ({e}); does it support `logprobs`?") from None


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return min(float(value), 60.0) if value is not None else None
    except ValueError:
        return None
