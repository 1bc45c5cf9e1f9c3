"""What people and scripts reach over HTTP: the job status pages (`views`, `urls`), the JSON
API (`api_views`, `api_urls`, with `http` for its front door, `tokens` and `jsoninput`),
the controls they share (`control`, `job_status`), admin's actions and form input,
`/healthz` and `/metrics`."""
