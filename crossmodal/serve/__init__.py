"""``crossmodal serve``: a local web page to try a generator.

The page uploads a condition file, shows the progress of its generation, the condition as the
model sees it and every file the recipe's writer (and renderer) made, by media type: images,
audio players, download links. Nothing here knows a modality, so any plugin's recipe gets a page.

:mod:`crossmodal.serve.app` is the Starlette app (it needs the ``serve`` extra: starlette,
uvicorn, python-multipart); :mod:`crossmodal.serve.jobs` the queue of generation jobs, one
worker thread and a temporary folder per server. See docs/serve.md.
"""
