"""The Redis job queue between app replicas and runner services: key names, timings and the
atomic steps (Lua scripts) that both sides share. The app's side is app.runner.queue_client,
the runner's app.runner.queue_worker.

Keys, each under the site's prefix (TORCHQUIZ_REDIS_PREFIX on the app, and
TORCHQUIZ_RUNNER_REDIS_PREFIX on the runner: the same value), `runner:` then:
- `jobs:short`, `jobs:long`: the streams of jobs, consumer group `runners`. Short: snippets,
  checks, code tests, playground requests; long: lab training jobs and lab_code runs, so a
  training never holds a place a snippet could use. An entry: job (its id), kind ("run",
  "playground" or "lab"), body (JSON), request_id, attempt (1, then 2 when retried).
- `job:<id>`: the job's own stream of messages, field `m` (JSON): for a run {"started"},
  {"output"}, then {"result"} or {"error"}; for a lab job its events, the last a final one;
  {"retry": n} when it starts again elsewhere. Expires JOB_TTL_SECONDS after its last message.
- `meta:<id>`: a hash: lane, learner, network, handle, state ("queued", "done"), cancel (1 when
  asked), runner (which holds it). `handle:<handle>`: the job id of a run started with that
  handle (to cancel it by handle). Both expire after JOB_TTL_SECONDS.
- `inflight`: a hash of counters of jobs admitted and not finished: per lane (`short`), per
  lane and learner (`short:learner:<id>`), per lane and address (`short:address:<net>`).
- `ids`: the job id counter. `runners`: the set of runner ids; `alive:<runner>`: a runner's
  liveness (JSON: state (warming, ready, off, stopping), mode, reason, torch), expiring after
  LIVENESS_TTL_SECONDS.
- `cancel`: the pub/sub channel on which a cancel names a job id.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable
from typing import Any, Literal, TypeVar

from app.core.redis import Keys

T = TypeVar("T")
Lane = Literal["short", "long"]
GROUP = "runners"
# A job's messages stay readable this long after its last one (a page that reconnects late).
JOB_TTL_SECONDS = 3600
# A runner says it is alive this often, for this long: one not heard from in 5 s is gone.
LIVENESS_EVERY_SECONDS = 1.0
LIVENESS_TTL_SECONDS = 5
# A job the runner holding it has not claimed again for this long (its heartbeat comes every
# sixth of it) is taken back by another: RunnerSettings.queue_reclaim_seconds, 30 s by default.
HEARTBEATS_PER_RECLAIM = 6
# Attempts at a training job: once more after its runner died, then failed.
TRAINING_ATTEMPTS = 2
RUNNER_STOPPED = "the code runner running it stopped; run it again"
TRAINING_STOPPED = (
    "the code runner running it stopped twice; the run failed (start it again if you like)"
)


def lane_of(kind: str) -> Lane:
    """Training (lab jobs and learners' lab models) in the long lane, the rest in the short."""
    return "long" if kind in ("lab", "lab_code") else "short"


class QueueKeys:
    def __init__(self, prefix: str) -> None:
        self._keys = Keys(prefix)
        self.base = self._keys("runner", "")  # "<prefix>runner:", for the scripts' own keys
        self.inflight = self._keys("runner", "inflight")
        self.ids = self._keys("runner", "ids")
        self.runners = self._keys("runner", "runners")
        self.cancel = self._keys("runner", "cancel")

    def stream(self, lane: Lane) -> str:
        return self._keys("runner", "jobs", lane)

    def events(self, job: int | str) -> str:
        return self._keys("runner", "job", job)

    def meta(self, job: int | str) -> str:
        return self._keys("runner", "meta", job)

    def handle(self, handle: str) -> str:
        return self._keys("runner", "handle", handle)

    def alive(self, runner: str) -> str:
        return self._keys("runner", "alive", runner)


async def answered(command: Awaitable[T] | T) -> T:
    """A command's answer: redis-py's asyncio client types its commands as "awaitable or
    not", as they are shared with the blocking client."""
    return await command if inspect.isawaitable(command) else command


def message(entry: dict[str, str]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(entry["m"])
    return decoded


# Live runners that are ready, and warming, among those in the set (stale ids are dropped).
_LIVE = """
local function live(runners, base)
  local ready, warming, off = 0, 0, ''
  for _, id in ipairs(redis.call('SMEMBERS', runners)) do
    local said = redis.call('GET', base .. 'alive:' .. id)
    if not said then
      redis.call('SREM', runners, id)
    else
      local state = cjson.decode(said)
      if state['state'] == 'ready' then ready = ready + 1
      elseif state['state'] == 'warming' then warming = warming + 1
      elseif state['state'] == 'off' then
        off = type(state['reason']) == 'string' and state['reason'] or 'running code is off'
      end
    end
  end
  return ready, warming, off
end
"""

# Admission, in one step: a ready runner is alive, the lane's depth and the learner's and the
# address's jobs in flight are within their limits; then the counters go up, the job's meta is
# written and the job is queued. KEYS: inflight, stream, ids, runners. ARGV: lane, depth,
# learner, learner limit, network, network limit, base, ttl, kind, body, handle, request id.
# Answers {"ok", id} or the refusal: {"none", warming, off}, {"full"}, {"learner"}, {"address"}.
ADMIT = (
    _LIVE
    + """
local lane = ARGV[1]
local ready, warming, off = live(KEYS[4], ARGV[7])
if ready == 0 then return {'none', tostring(warming), off} end
if tonumber(redis.call('HGET', KEYS[1], lane) or '0') >= tonumber(ARGV[2]) then
  return {'full'}
end
local mine = {}
if ARGV[3] ~= '' then
  local key = lane .. ':learner:' .. ARGV[3]
  if tonumber(redis.call('HGET', KEYS[1], key) or '0') >= tonumber(ARGV[4]) then
    return {'learner'}
  end
  table.insert(mine, key)
end
if ARGV[5] ~= '' then
  local key = lane .. ':address:' .. ARGV[5]
  if tonumber(redis.call('HGET', KEYS[1], key) or '0') >= tonumber(ARGV[6]) then
    return {'address'}
  end
  table.insert(mine, key)
end
local id = redis.call('INCR', KEYS[3])
redis.call('HINCRBY', KEYS[1], lane, 1)
for _, key in ipairs(mine) do redis.call('HINCRBY', KEYS[1], key, 1) end
local meta = ARGV[7] .. 'meta:' .. id
redis.call('HSET', meta, 'lane', lane, 'learner', ARGV[3], 'network', ARGV[5],
  'handle', ARGV[11], 'state', 'queued')
redis.call('EXPIRE', meta, ARGV[8])
if ARGV[11] ~= '' then redis.call('SET', ARGV[7] .. 'handle:' .. ARGV[11], id, 'EX', ARGV[8]) end
redis.call('XADD', KEYS[2], '*', 'job', id, 'kind', ARGV[9], 'body', ARGV[10],
  'request_id', ARGV[12], 'attempt', '1')
return {'ok', tostring(id)}
"""
)

# A job's end, once: its final message added, its counters released (only the first time: a
# job finished twice, by a runner thought dead and by the one that took it back, counts once),
# its queue entry acknowledged and deleted. KEYS: inflight, stream, meta, events.
# ARGV: group, entry id, final message (JSON), ttl. Answers 1, or 0 if it had ended already.
FINISH = """
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[2], ARGV[2])
if redis.call('HGET', KEYS[3], 'state') == 'done' then return 0 end
local lane = redis.call('HGET', KEYS[3], 'lane')
if lane then
  redis.call('HSET', KEYS[3], 'state', 'done')
  local counted = {lane}
  local learner = redis.call('HGET', KEYS[3], 'learner')
  local network = redis.call('HGET', KEYS[3], 'network')
  if learner and learner ~= '' then table.insert(counted, lane .. ':learner:' .. learner) end
  if network and network ~= '' then table.insert(counted, lane .. ':address:' .. network) end
  for _, key in ipairs(counted) do
    if redis.call('HINCRBY', KEYS[1], key, -1) <= 0 then redis.call('HDEL', KEYS[1], key) end
  end
end
redis.call('XADD', KEYS[4], '*', 'm', ARGV[3])
redis.call('EXPIRE', KEYS[4], ARGV[4])
return 1
"""

# A job queued again (its runner died, or stopped and handed it back): a new entry with its
# attempt, the old one acknowledged and deleted, and the job's readers told. KEYS: stream,
# events, meta. ARGV: group, old entry id, job, kind, body, request id, attempt, ttl.
REQUEUE = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('HGET', KEYS[3], 'state') == 'done' then return 0 end
redis.call('XADD', KEYS[1], '*', 'job', ARGV[3], 'kind', ARGV[4], 'body', ARGV[5],
  'request_id', ARGV[6], 'attempt', ARGV[7])
redis.call('XADD', KEYS[2], '*', 'm', cjson.encode({retry = tonumber(ARGV[7])}))
redis.call('EXPIRE', KEYS[2], ARGV[8])
return 1
"""

# Ask for a job's end: marked (a runner that takes it later answers it cancelled) and announced
# (the runner holding it stops it). KEYS: meta, channel. ARGV: job. 1, or 0 if it has ended.
CANCEL = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == 'done' then return 0 end
redis.call('HSET', KEYS[1], 'cancel', '1')
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1
"""

# Where the runners stand: {ready, warming, off reason}. KEYS: runners. ARGV: base.
LIVE = _LIVE + "\nlocal r, w, o = live(KEYS[1], ARGV[1])\nreturn {r, w, o}\n"
