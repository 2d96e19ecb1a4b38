"""The domain: workflow, services, SLA maths, routing. No Flask imports."""
