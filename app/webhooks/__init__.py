"""Course webhooks (issue 14 §3): a course's staff subscribe URLs to events, and each event is
posted there as JSON signed per the Standard Webhooks spec, through the durable outbox
(app.outbox: retried with backoff, at least once, a delivery log with replay).

Events and their `data` (the body is {"type", "timestamp", "data"}):
- attempt.submitted: course (slug), assignment {id, title}, learner {id, external_ids
  [{issuer, subject}]}, attempt {id, number, started_at, submitted_at, points, questions,
  score (percent), grade (less any late penalty), late, timed_out}.
- assignment.completed: the learner's last allowed attempt is in: course, assignment,
  learner, attempts, attempts_allowed, final_grade (as the gradebook has it: best attempt,
  late penalty, staff override), best_attempt, overridden. Unlimited attempts never complete.
- question.reported: course, question {slug, version_id}, report {id, kind, text, filed_at},
  learner.
- webhook.test: course, webhook (a ping sent from the webhook's page or API).

Headers: webhook-id (stable per message: a retry or replay keeps it, so receivers dedupe on
it), webhook-timestamp (seconds), webhook-signature ("v1,<base64 HMAC-SHA256 of
id.timestamp.body under the base64-decoded secret after 'whsec_'>"), User-Agent torchquiz.
A 2xx answer is delivered; 410 Gone switches the webhook off; anything else is retried (about
12 tries over an hour). In production a URL resolving to a private or loopback address is
refused at delivery; development and test allow it.
"""
