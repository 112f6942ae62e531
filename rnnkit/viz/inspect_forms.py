"""``rnnkit inspect`` on a form's run: a page of a few examples as the model reads or writes them.

The same page as the LM's (``inspect_units.py``), one segment per sequence (``form_trace.py``):

    classify   each text, coloured by a unit, with the class probabilities after each
               character drawn as a strip under it: where the model made up its mind
    tag        each text, with the predicted tag under each character, as strong as its probability
    seq2seq    each source (the encoder's units), then the decoder's greedy output with its
               distribution at each step (the decoder's units)
    generate   the greedy output for each label, with the distribution at each step

The examples are the lines of ``text_file`` (a TSV line gives its first field: the text, the
source, or generate's label), else the first lines of the run's training data (generate:
its labels), at most ``MAX_EXAMPLES`` and ``max_chars`` characters in all.

    rnnkit inspect runs/classify --text examples.txt --html classify.html
"""

from __future__ import annotations

from pathlib import Path

from rnnkit.data.corpus import read_text_file
from rnnkit.errors import RnnkitError
from rnnkit.train.forms import Form
from rnnkit.train.load_task import load_task

from .form_trace import form_traces
from .inspect_units import html_output, lm_run_text, page_data, page_from_traces, write_page
from .run_task import task_of

MAX_EXAMPLES = 8


def form_items(form: Form, text_file: Path | None, max_chars: int) -> tuple[list[str], str]:
    """(the examples to show, where they come from): texts, sources, or generate's labels."""
    if text_file is not None:
        lines, source = read_text_file(text_file).splitlines(), str(text_file)
    elif form.verb == "generate":
        return form.labels.labels[:MAX_EXAMPLES], "the run's labels"
    else:
        data = Path(form.cfg.data) if form.cfg.data else None
        if data is None or not data.is_file():
            raise RnnkitError(
                f"the run's training data {data} is gone; give the examples with `text_file` FILE"
            )
        lines, source = read_text_file(data).splitlines(), f"{data} (the run's training data)"
    items, left = [], max_chars
    for line in lines:
        item = line.split("\t", 1)[0]
        if not item.strip():
            continue
        items.append(item[:left])
        left -= len(items[-1])
        if len(items) == MAX_EXAMPLES or left <= 0:
            break
    if not items:
        raise RnnkitError(f"{source} holds no examples (no non-empty lines)")
    return items, source


def inspect_run(
    run_dir: Path,
    text_file: Path | None,
    html_out: Path,
    layer: int | None = None,
    unit: int | None = None,
    max_chars: int = 2000,
    which: str = "best",
) -> dict:
    """``rnnkit inspect``: write the page for ``run_dir``'s model, the LM's
    (over ``inspect_units.lm_run_text``) or a form's (over ``form_items``), by the run's task.

    Returns the page's data; ``data["html"]`` is the path written (``.html`` added if
    ``html_out`` has no suffix).
    """
    if max_chars < 1:
        raise RnnkitError(f"`max_chars` must be positive, got {max_chars}")
    html_out = html_output(html_out)  # a bad path fails before the model is read
    if task_of(run_dir, which) in (None, "lm"):
        model, vocab, text, source = lm_run_text(run_dir, text_file, max_chars, which)
        data = page_data(model, vocab, text, layer, unit, source)
    else:
        form, model, _ = load_task(run_dir, None, which)
        items, source = form_items(form, text_file, max_chars)
        traces = [t for item in items for t in form_traces(form, model, item)]
        data = page_from_traces(traces, form.verb, model.cfg.to_dict(), source, layer, unit)
    return write_page(data, html_out)
