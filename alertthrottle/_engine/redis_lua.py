"""The Lua script that decides alerts on a Redis server (``RedisThrottlePolicy``).

One script, loaded once and called by its SHA, with a mode in ``ARGV[2]``.
Every call touches the keys of one partition only, all under the hash tag
``{namespace:partition}`` (passed as ``ARGV[1]``, ``KEYS[1]`` is its meta hash
so that Redis Cluster routes the call), so a call is atomic on one shard.

The keys of a partition ``P``:

* ``P:meta``  hash: ``config`` (canonical JSON), ``version``, ``partitions``,
  ``clock``, ``seq`` (episodes started here) and the running totals;
* ``P:rules`` hash: alert code (decimal) -> rule, ``d`` -> the default rule;
  a rule is ``x`` (exempt), ``n`` (no threshold) or
  ``"limit period resume_below sample_every sample_interval"`` (``-`` = unset);
* ``P:k:<code>:<device>`` hash, one per tracked key: ring slots ``1..limit+1``
  (the key's last ``limit + 1`` times), ``p`` (the slot written next, which
  holds the oldest time), ``ld`` (last delivered), ``pn``/``ps`` (pending
  count and its episode) and, in an episode, ``e`` (sequence id), ``ea``
  (alerts), ``et`` (throttled), ``es`` (sampled), ``est`` (start time),
  ``ew`` (window count at start), ``erc`` (recipients of the start, JSON);
* ``P:ends``  sorted set: key -> end of its open episode (exact, updated on
  every alert of the episode);
* ``P:idle``  sorted set: key -> a lower bound of when its window empties
  (re-filed lazily, as the in-process policy does);
* ``P:pend``  hash: key -> ``"count sequence"`` for keys dropped while idle;
* ``P:hist``  list: the configuration history (JSON), oldest first.

Times travel as text formatted with ``%.17g``, which round-trips an IEEE
double exactly, so the server compares exactly the numbers Python would.
"""

from __future__ import annotations

__all__ = ["SCRIPT"]

SCRIPT = r"""
local P = ARGV[1]
local mode = ARGV[2]
local meta = P .. ':meta'
local ends = P .. ':ends'
local idle = P .. ':idle'
local pend = P .. ':pend'
local rules_key = P .. ':rules'
local kprefix = P .. ':k:'

local function fmt(x)
  return string.format('%.17g', x)
end

local function split(s)
  local out = {}
  for word in string.gmatch(s, '%S+') do out[#out + 1] = word end
  return out
end

if mode == 'attach' then
  -- ARGV: 3 config json, 4 partitions, 5 history entry json, 6.. rule field/value pairs
  local stored = redis.call('HMGET', meta, 'config', 'partitions', 'version')
  if stored[1] then
    return {0, stored[1], stored[2], stored[3]}
  end
  redis.call('HSET', meta, 'config', ARGV[3], 'partitions', ARGV[4], 'version', 1,
    'seq', 0, 'total', 0, 'delivered', 0, 'throttled', 0, 'exempt', 0, 'late', 0,
    'open', 0, 'tracked', 0)
  redis.call('DEL', rules_key)
  for i = 6, #ARGV, 2 do
    redis.call('HSET', rules_key, ARGV[i], ARGV[i + 1])
  end
  redis.call('DEL', P .. ':hist')
  redis.call('RPUSH', P .. ':hist', ARGV[5] .. '\n[]')
  return {1, ARGV[3], ARGV[4], '1'}
end

local state = redis.call('HMGET', meta, 'clock', 'seq', 'version', 'total', 'delivered',
  'throttled', 'exempt', 'late', 'open', 'tracked', 'next_end', 'next_idle')
if not state[3] then
  return redis.error_reply('ALERTTHROTTLE_EMPTY namespace state is missing (flushed?)')
end
local clock = -math.huge
if state[1] then clock = tonumber(state[1]) end
local seq = tonumber(state[2])
local version = state[3]
-- The running totals; written back, with the clock, by save() in one HSET.
local n_total, n_delivered, n_throttled, n_exempt, n_late, n_open, n_tracked =
  tonumber(state[4]), tonumber(state[5]), tonumber(state[6]), tonumber(state[7]),
  tonumber(state[8]), tonumber(state[9]), tonumber(state[10])
local d_total, d_delivered, d_throttled, d_exempt, d_late, d_open, d_tracked = 0, 0, 0, 0, 0, 0, 0

local rules = {}
local function rule_for(code)
  local r = rules[code]
  if r then return r end
  local spec = redis.call('HGET', rules_key, code)
  if not spec then spec = redis.call('HGET', rules_key, 'd') end
  if spec == 'x' or spec == 'n' then
    r = {kind = spec}
  else
    local f = split(spec)
    r = {kind = 't', limit = tonumber(f[1]), period = tonumber(f[2]), resume = tonumber(f[3]),
         every = tonumber(f[4]) or 0, interval = tonumber(f[5])}
    r.size = r.limit + 1
  end
  rules[code] = r
  return r
end

-- Lower bounds of the first entries of the two schedules (math.huge when empty).
local function first_score(zkey)
  local first = redis.call('ZRANGE', zkey, 0, 0, 'WITHSCORES')
  if first[2] then return tonumber(first[2]) end
  return math.huge
end
-- Whether P:pend has entries, asked once per call and only when needed.
local has_pending = nil
-- Lower bounds of the schedules' first entries, kept in P:meta between calls
-- ('none' when empty): every script that adds to a schedule lowers them.
local function bound(text, zkey)
  if text == 'none' then return math.huge end
  if text then return tonumber(text) end
  return first_score(zkey)
end
local next_end = bound(state[11], ends)
local next_idle = bound(state[12], idle)

-- Step 1: close every episode whose end is <= t, in order of end.
local function close_due(t, out)
  local due = redis.call('ZRANGEBYSCORE', ends, '-inf', fmt(t), 'WITHSCORES')
  for i = 1, #due, 2 do
    local member = due[i]
    local kk = kprefix .. member
    local h = redis.call('HMGET', kk, 'e', 'est', 'et', 'es', 'erc')
    redis.call('HDEL', kk, 'e', 'ea', 'et', 'es', 'est', 'ew', 'erc')
    out[#out + 1] = {member, due[i + 1], h[1], h[2], h[3], h[4], h[5] or ''}
    d_open = d_open - 1
  end
  if #due > 0 then
    redis.call('ZREMRANGEBYSCORE', ends, '-inf', fmt(t))
  end
  next_end = first_score(ends)
end

-- The time of the nth most recent alert of a key (ring position p, 1-based slots).
local function recent_slot(p, size, nth)
  return ((p - 1 - nth) % size) + 1
end

-- Forget keys whose window is empty at t (at most budget entries looked at);
-- a pending count is kept in P:pend.
local function drop_idle(t, budget)
  local due = redis.call('ZRANGEBYSCORE', idle, '-inf', fmt(t), 'LIMIT', 0, budget)
  local gone_keys, gone_members = {}, {}
  for i = 1, #due do
    local member = due[i]
    local kk = kprefix .. member
    local code = string.match(member, '^(%d+):')
    local r = rule_for(code)
    local h = redis.call('HMGET', kk, 'p', 'pn', 'ps', 'e')
    local empties = -math.huge
    if h[1] and r.kind == 't' then
      local newest = redis.call('HGET', kk, recent_slot(tonumber(h[1]), r.size, 1))
      if newest then empties = tonumber(newest) + r.period end
    end
    if h[4] then
      -- Cannot happen (an episode ends no later than its window empties and was
      -- closed first); a guard that keeps such a key until its episode ends.
      local stop = redis.call('ZSCORE', ends, member)
      if stop and tonumber(stop) > empties then empties = tonumber(stop) end
      if empties <= t then empties = t + 1 end
    end
    if empties > t then
      redis.call('ZADD', idle, fmt(empties), member)
    else
      if h[2] and tonumber(h[2]) > 0 then
        redis.call('HSET', pend, member, h[2] .. ' ' .. h[3])
        has_pending = true
      end
      gone_keys[#gone_keys + 1] = kk
      gone_members[#gone_members + 1] = member
    end
  end
  -- In slices: unpack has a bound on the number of values.
  for first = 1, #gone_keys, 1000 do
    local last = math.min(first + 999, #gone_keys)
    redis.call('DEL', unpack(gone_keys, first, last))
    redis.call('ZREM', idle, unpack(gone_members, first, last))
  end
  d_tracked = d_tracked - #gone_keys
  if #due > 0 then next_idle = first_score(idle) end
end

local function housekeep(t, events, budget)
  if next_end <= t then close_due(t, events) end
  if next_idle <= t then drop_idle(t, budget) end
end

-- A decision as the client reads it: verdict * 2 + late when there is nothing
-- else to say, else {verdict, late, sampled, count, sequence, ended, started}.
local function verdict(v, late, sampled, count, sequence, ended, started)
  if sampled == 0 and count == 0 and #ended == 0 and started == 0 then
    return v * 2 + late
  end
  return {v, late, sampled, count, sequence, ended, started}
end

local part = tonumber(ARGV[4])
local parts = tonumber(ARGV[5])

-- Decide one alert; returns {verdict, late, sampled, count, sequence, ended, started}
-- (verdict 0 DELIVER, 1 THROTTLE, 2 EXEMPT; started = {sequence, window_count, at} or 0),
-- or nil for a late alert refused with late='reject'.
local function decide(t_text, device, code, recipients, reject, budget)
  local t = tonumber(t_text)
  local late = 0
  if t < clock then
    if reject then return nil end
    t = clock
    t_text = fmt(t)
    late = 1
    d_late = d_late + 1
  else
    clock = t
  end
  local ended = {}
  housekeep(t, ended, budget)
  d_total = d_total + 1
  local r = rule_for(code)
  if r.kind == 'x' then
    d_exempt = d_exempt + 1
    return verdict(2, late, 0, 0, 0, ended, 0)
  end
  if r.kind == 'n' then
    d_delivered = d_delivered + 1
    return verdict(0, late, 0, 0, 0, ended, 0)
  end
  local member = code .. ':' .. device
  local kk = kprefix .. member
  local h = redis.call('HMGET', kk, 'p', 'e', 'pn', 'ps')
  if not h[1] then
    -- A key with nothing in its window: one alert never exceeds a limit.
    d_tracked = d_tracked + 1
    d_delivered = d_delivered + 1
    redis.call('HSET', kk, '1', t_text, 'p', 2, 'ld', t_text)
    local empties = t + r.period
    redis.call('ZADD', idle, fmt(empties), member)
    if empties < next_idle then next_idle = empties end
    local left = false
    if has_pending == nil then has_pending = redis.call('EXISTS', pend) == 1 end
    if has_pending then left = redis.call('HGET', pend, member) end
    if left then
      redis.call('HDEL', pend, member)
      local f = split(left)
      return verdict(0, late, 0, tonumber(f[1]), tonumber(f[2]), ended, 0)
    end
    return verdict(0, late, 0, 0, 0, ended, 0)
  end
  local size = r.size
  local p = tonumber(h[1])
  local pn = tonumber(h[3] or '0')
  local ps = tonumber(h[4] or '0')
  local written = p
  p = (p % size) + 1
  local oldest = redis.call('HGET', kk, p)
  if not h[2] then
    -- Step 4: over the limit when the oldest of the last limit + 1 is in the window.
    if oldest and tonumber(oldest) > t - r.period then
      seq = seq + 1
      local id = (seq - 1) * parts + part + 1
      -- window_count: every held time inside the window; the slot being
      -- written holds the time this alert replaces, which is counted as t.
      local all = redis.call('HGETALL', kk)
      local count = 1
      local since = t - r.period
      local mine = tostring(written)
      local want = tostring(recent_slot(p, size, r.resume))
      local resume_text = t_text
      for i = 1, #all, 2 do
        local field = all[i]
        if string.match(field, '^%d+$') and field ~= mine then
          if tonumber(all[i + 1]) > since then count = count + 1 end
          if field == want then resume_text = all[i + 1] end
        end
      end
      d_open = d_open + 1
      d_throttled = d_throttled + 1
      local stop = tonumber(resume_text) + r.period
      redis.call('HSET', kk, written, t_text, 'p', p, 'e', id, 'ea', 1, 'et', 1, 'es', 0,
        'est', t_text, 'ew', count, 'erc', recipients, 'pn', pn + 1, 'ps', id)
      redis.call('ZADD', ends, fmt(stop), member)
      if stop < next_end then next_end = stop end
      return verdict(1, late, 0, 0, 0, ended, {id, count, t_text})
    end
    d_delivered = d_delivered + 1
    if pn > 0 then
      redis.call('HSET', kk, written, t_text, 'p', p, 'ld', t_text, 'pn', 0)
      redis.call('HDEL', kk, 'ps')
      return verdict(0, late, 0, pn, ps, ended, 0)
    end
    redis.call('HSET', kk, written, t_text, 'p', p, 'ld', t_text)
    return verdict(0, late, 0, 0, 0, ended, 0)
  end
  -- Step 5: in an episode, only samples get through.
  local ep = redis.call('HMGET', kk, 'ea', 'ld', 'es', 'et')
  local number = tonumber(ep[1]) + 1
  local id = tonumber(h[2])
  local sample = false
  if r.every > 0 and number % r.every == 0 then
    sample = true
  elseif r.interval and (not ep[2] or t - tonumber(ep[2]) >= r.interval) then
    sample = true
  end
  -- The episode's end moves with its resume_below-th most recent alert.
  local nth = r.resume
  local stop_text
  if nth == 1 then
    stop_text = t_text
  else
    stop_text = redis.call('HGET', kk, recent_slot(p, size, nth))
  end
  local stop = -math.huge
  if stop_text then stop = tonumber(stop_text) + r.period end
  redis.call('ZADD', ends, fmt(stop), member)
  if stop < next_end then next_end = stop end
  if sample then
    d_delivered = d_delivered + 1
    redis.call('HSET', kk, written, t_text, 'p', p, 'ea', number, 'es', tonumber(ep[3]) + 1,
      'ld', t_text, 'pn', 0)
    redis.call('HDEL', kk, 'ps')
    return verdict(0, late, 1, pn, ps, ended, 0)
  end
  d_throttled = d_throttled + 1
  redis.call('HSET', kk, written, t_text, 'p', p, 'ea', number, 'et', tonumber(ep[4]) + 1,
    'pn', pn + 1, 'ps', id)
  return verdict(1, late, 0, 0, 0, ended, 0)
end

local function save()
  local function bound_text(x)
    if x == math.huge then return 'none' end
    return fmt(x)
  end
  local fields = {'seq', seq, 'total', n_total + d_total, 'delivered', n_delivered + d_delivered,
    'throttled', n_throttled + d_throttled, 'exempt', n_exempt + d_exempt,
    'late', n_late + d_late, 'open', n_open + d_open, 'tracked', n_tracked + d_tracked,
    'next_end', bound_text(next_end), 'next_idle', bound_text(next_idle)}
  if clock > -math.huge then
    fields[#fields + 1] = 'clock'
    fields[#fields + 1] = fmt(clock)
  end
  redis.call('HSET', meta, unpack(fields))
end

if mode == 'feed' then
  -- ARGV: 3 reject flag, 4 partition, 5 partitions, 6 budget, 7 the alerts, one a
  -- line: "time device code recipients-json" (JSON has no raw line breaks).
  -- The reply is one JSON text: decoding it is far cheaper for the client
  -- than thousands of nested RESP elements.
  local reject = ARGV[3] == '1'
  local budget = tonumber(ARGV[6])
  local decisions = {}
  local stopped = 0
  for line in string.gmatch(ARGV[7], '[^\n]+') do
    local t_text, device, code, recipients = string.match(line, '^(%S+) (%S+) (%S+) ?(.*)$')
    local decision = decide(t_text, device, code, recipients, reject, budget)
    if not decision then
      stopped = 1
      break
    end
    decisions[#decisions + 1] = decision
  end
  save()
  return cjson.encode({version, stopped, fmt(clock), decisions})
end

if mode == 'advance' then
  -- ARGV: 3 now, 4 partition, 5 partitions, 6 budget
  local now = tonumber(ARGV[3])
  local events = {}
  if now >= clock then
    clock = now
    housekeep(now, events, tonumber(ARGV[6]))
    save()
  end
  return {version, events}
end

-- Keep the newest new_size times of a ring of old_size, oldest first from slot 1
-- (the next write goes to slot 1, as KeyWindow.resize); returns the new position.
local function resize(kk, p, old_size, new_size)
  local times = {}
  for nth = old_size, 1, -1 do
    times[#times + 1] = redis.call('HGET', kk, recent_slot(p, old_size, nth)) or false
  end
  for first = 1, old_size, 1000 do
    local slots = {}
    for s = first, math.min(first + 999, old_size) do slots[#slots + 1] = tostring(s) end
    redis.call('HDEL', kk, unpack(slots))
  end
  for j = 1, old_size do
    local slot = j - old_size + new_size
    if slot >= 1 and times[j] then redis.call('HSET', kk, slot, times[j]) end
  end
  redis.call('HSET', kk, 'p', 1)
  return 1
end

if mode == 'reconfigure' then
  -- ARGV: 3 at, 4 expected version, 5 new config json, 6 history entry json,
  -- 7 '1' to apply at the clock when it has passed 'at', 8.. new rule field/value pairs.
  -- Walks every tracked key once (docs/scaling.md): the rules of reconfigure.py.
  if version ~= ARGV[4] then return cjson.encode({'version', version}) end
  local at = tonumber(ARGV[3])
  if at < clock then
    if ARGV[7] ~= '1' then return cjson.encode({'clock', fmt(clock)}) end
    at = clock
  end
  local at_text = fmt(at)
  clock = at
  local events = {}
  -- Episodes over by 'at' end under the thresholds they started with.
  close_due(at, events)
  while next_idle <= at do drop_idle(at, 1000) end
  local members = redis.call('ZRANGE', idle, 0, -1)
  local old = {}
  for i = 1, #members do
    local code = string.match(members[i], '^(%d+):')
    old[code] = rule_for(code)
  end
  redis.call('DEL', rules_key)
  for i = 8, #ARGV, 2 do
    redis.call('HSET', rules_key, ARGV[i], ARGV[i + 1])
  end
  rules = {}
  local closed = {}
  local episode_fields = {'e', 'ea', 'et', 'es', 'est', 'ew', 'erc'}
  for i = 1, #members do
    local member = members[i]
    local code = string.match(member, '^(%d+):')
    local r = rule_for(code)
    local o = old[code]
    local kk = kprefix .. member
    local h = redis.call('HMGET', kk, 'p', 'e', 'est', 'et', 'es', 'erc', 'pn', 'ps')
    local p = tonumber(h[1])
    if r.kind == 't' and o.kind == 't' and o.size ~= r.size then
      p = resize(kk, p, o.size, r.size)
    end
    local stop = nil
    if h[2] and r.kind == 't' then
      local rt = redis.call('HGET', kk, recent_slot(p, r.size, r.resume))
      stop = -math.huge
      if rt then stop = tonumber(rt) + r.period end
    end
    if h[2] and (r.kind ~= 't' or stop <= at) then
      -- Unthrottled from now on, or already below resume_below: the episode ends at 'at'.
      closed[#closed + 1] = {member, at_text, h[2], h[3], h[4], h[5], h[6] or ''}
      redis.call('HDEL', kk, unpack(episode_fields))
      redis.call('ZREM', ends, member)
      d_open = d_open - 1
    elseif h[2] then
      redis.call('ZADD', ends, fmt(stop), member)
      if stop < next_end then next_end = stop end
    end
    if r.kind ~= 't' then
      -- Exempt or unthrottled: no window is kept; a pending count waits.
      if h[7] and tonumber(h[7]) > 0 then
        redis.call('HSET', pend, member, h[7] .. ' ' .. h[8])
        has_pending = true
      end
      redis.call('DEL', kk)
      redis.call('ZREM', idle, member)
      d_tracked = d_tracked - 1
    else
      local newest = redis.call('HGET', kk, recent_slot(p, r.size, 1))
      local empties = -math.huge
      if newest then empties = tonumber(newest) + r.period end
      redis.call('ZADD', idle, fmt(empties), member)
      if empties < next_idle then next_idle = empties end
    end
  end
  table.sort(closed, function(a, b) return tonumber(a[3]) < tonumber(b[3]) end)
  for i = 1, #closed do events[#events + 1] = closed[i] end
  -- A shorter period may have emptied windows already.
  next_idle = first_score(idle)
  while next_idle <= at do drop_idle(at, 1000) end
  version = tostring(tonumber(version) + 1)
  redis.call('HSET', meta, 'config', ARGV[5], 'version', version)
  -- The audit entry: its JSON as given, a line break, then the events it caused.
  local encoded = '[]'
  if #events > 0 then encoded = cjson.encode(events) end
  redis.call('RPUSH', P .. ':hist', ARGV[6] .. '\n' .. encoded)
  save()
  return cjson.encode({'ok', version, at_text, events})
end

if mode == 'read' then
  -- Everything stats, open_episodes and pending_counts need, from one instant.
  local totals = redis.call('HMGET', meta, 'total', 'delivered', 'throttled', 'exempt',
    'late', 'seq', 'open', 'tracked', 'clock')
  local open = {}
  local pending = redis.call('HGETALL', pend)
  if ARGV[3] == '1' then
    local members = redis.call('ZRANGE', ends, 0, -1)
    for i = 1, #members do
      local h = redis.call('HMGET', kprefix .. members[i], 'e', 'est', 'ew', 'erc')
      open[#open + 1] = {members[i], h[1], h[2], h[3], h[4] or ''}
    end
  end
  local held = {}
  if ARGV[4] == '1' then
    local members = redis.call('ZRANGE', idle, 0, -1)
    for i = 1, #members do
      local h = redis.call('HMGET', kprefix .. members[i], 'pn', 'ps')
      if h[1] and tonumber(h[1]) > 0 then
        held[#held + 1] = members[i]
        held[#held + 1] = h[1] .. ' ' .. h[2]
      end
    end
  end
  return {version, totals, open, pending, held}
end

return redis.error_reply('ALERTTHROTTLE unknown mode ' .. tostring(mode))
"""
