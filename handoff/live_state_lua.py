"""The Lua scripts of :class:`handoff.live_state_redis.RedisQueueStore`.

Each live-state change that checks a precondition is one script, so Redis
runs it atomically across gateway processes (two agents claiming at once:
one wins). The keys each script touches are listed above it; their layout is
in :mod:`handoff.live_state_redis`.
"""

# KEYS: conv, target queue, seq, owned set of the current owner (or a dummy), all queues
# ARGV: conv id, queue, handoff id, entry json, front ("1"/"0"), ttl, required owner ("" = none)
ENQUEUE = """
if ARGV[7] ~= '' then
  local cur = redis.call('HMGET', KEYS[1], 'state', 'agent_id')
  if cur[1] ~= 'agent' or cur[2] ~= ARGV[7] then return 0 end
  redis.call('SREM', KEYS[4], ARGV[1])
end
for i = 5, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
local score
if ARGV[5] == '1' then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if first[2] then score = tonumber(first[2]) - 1 else score = redis.call('INCR', KEYS[3]) end
else
  score = redis.call('INCR', KEYS[3])
end
redis.call('ZADD', KEYS[2], score, ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'waiting', 'queue', ARGV[2], 'handoff_id', ARGV[3],
           'entry', ARGV[4], 'agent_id', '', 'agent_name', '', 'rating_handoff', '', 'pending', '')
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""

# A waiting chat, or one whose owner transferred it (its ``pending`` entry):
# the claimer takes it unless it is offered to someone else, is their own, or
# (ARGV[5] set) they already own that many chats.
# KEYS: conv, owned set of the claimer, claim times, all queues
# ARGV: conv id, agent id, agent name, ttl, capacity ('' = none), now, key prefix
CLAIM = """
local cur = redis.call('HMGET', KEYS[1], 'state', 'agent_id', 'entry', 'pending')
local entry
if cur[1] == 'waiting' then entry = cur[3]
elseif cur[1] == 'agent' and cur[4] and cur[4] ~= '' and cur[2] ~= ARGV[2] then entry = cur[4]
else return false end
if ARGV[5] ~= '' and redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[5]) then return false end
local e = cjson.decode(entry)
if e.offered_to ~= nil and e.offered_to ~= cjson.null and tostring(e.offered_to) ~= ARGV[2] then return false end
for i = 4, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
if cur[1] == 'agent' then redis.call('SREM', ARGV[7] .. ':owned:' .. cur[2], ARGV[1]) end
redis.call('HSET', KEYS[1], 'state', 'agent', 'agent_id', ARGV[2], 'agent_name', ARGV[3], 'entry', entry,
           'pending', '', 'queue', e.queue, 'handoff_id', string.format('%d', e.handoff_id))
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[6])
return entry
"""

# The owner transfers the chat and keeps it meanwhile: ``pending`` set, its id
# in the target queue (left where it is when already there).
# KEYS: conv, target queue, seq, all queues; ARGV: conv id, owner, entry json,
# handoff id the pending entry must have ('' = any)
OFFER = """
local cur = redis.call('HMGET', KEYS[1], 'state', 'agent_id', 'pending')
if cur[1] ~= 'agent' or cur[2] ~= ARGV[2] then return 0 end
if ARGV[4] ~= '' then
  if not cur[3] or cur[3] == '' then return 0 end
  if string.format('%d', cjson.decode(cur[3]).handoff_id) ~= ARGV[4] then return 0 end
end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  for i = 4, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
redis.call('HSET', KEYS[1], 'pending', ARGV[3])
return 1
"""

# A chat leaving the queue or an agent goes to ``bot`` (the hash is deleted:
# with the bot, nothing is kept) or ``closed`` (kept without its entry).
# KEYS: conv, owned set, all queues (a pending transfer is withdrawn);
# ARGV: conv id, agent id, new state, rating handoff, ttl
RELEASE = """
local cur = redis.call('HMGET', KEYS[1], 'state', 'agent_id')
if cur[1] ~= 'agent' or cur[2] ~= ARGV[2] then return 0 end
for i = 3, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
if ARGV[3] == 'bot' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'state', ARGV[3], 'queue', '', 'agent_id', '', 'agent_name', '',
             'entry', '', 'rating_handoff', ARGV[4], 'pending', '')
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
"""

# KEYS: conv, all queues; ARGV: conv id, new state, ttl
DEQUEUE = """
if redis.call('HGET', KEYS[1], 'state') ~= 'waiting' then return false end
for i = 2, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
local entry = redis.call('HGET', KEYS[1], 'entry')
if ARGV[2] == 'bot' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'state', ARGV[2], 'queue', '', 'entry', '')
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return entry
"""

# KEYS: conv, all queues; ARGV: conv id, ttl, then field/value pairs (none: forget it)
# KEYS: counter; ARGV: add, window ms. Returns {count, ms left in the window}.
COUNT = """
local add = tonumber(ARGV[1])
if add < 0 and redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end
local n = redis.call('INCRBY', KEYS[1], add)
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  left = tonumber(ARGV[2])
end
return {n, left}
"""

SET_STATE = """
local cur = redis.call('HGET', KEYS[1], 'agent_id')
for i = 2, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
redis.call('DEL', KEYS[1])
if #ARGV > 2 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 3))
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return cur
"""
