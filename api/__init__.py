"""HTTP service: thin FastAPI routers over qa.pipeline.QAPipeline."""
