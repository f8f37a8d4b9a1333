"""The review studio: a local web page over one plan, to exempt, approve, add and delete
tracks and render the release (`faceless review`, extra `faceless[review]`).

Nothing here runs on import; `faceless.review.server` needs Starlette and uvicorn.
"""
