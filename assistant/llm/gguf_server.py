"""llama.cpp's own OpenAI-compatible server for one GGUF file, until SIGTERM or Ctrl-C.

`python -m assistant.llm.gguf_server MODEL --port 8012 --threads 2`. The server is llama.cpp's C++
one, from the `xllamacpp` wheel: prebuilt for baseline x86-64 (no -march=native), so it runs on
any CPU without compiling, and it reports token usage in streams.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

MODEL_ALIAS = "local"


def serve(*, model: str, port: int, threads: int, context: int, stop: threading.Event) -> None:
    # Imported here: the wheel comes with the `local` extra (`make run LOCAL_GGUF=…` installs
    # it), and the app imports this module's neighbours without it.
    try:
        import xllamacpp
    except ImportError:
        sys.exit(
            "A local GGUF model needs the `local` extra: start it with `make run LOCAL_GGUF=…`."
        )
    params = xllamacpp.CommonParams()
    params.model.path = model
    params.model_alias = {MODEL_ALIAS}
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = context
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    server = xllamacpp.Server(params)  # listening once this returns; raises if the model fails
    try:
        stop.wait()
    finally:
        del server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--port", type=int, default=8012)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--context", type=int, default=4096)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    serve(model=args.model, port=args.port, threads=args.threads, context=args.context, stop=stop)


if __name__ == "__main__":
    main()
