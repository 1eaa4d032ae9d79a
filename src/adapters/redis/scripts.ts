/**
 * Lua scripts: each runs atomically in Redis, so a transition or check-in can never interleave with
 * another writer (a check-in racing a delete cannot bring half a record back).
 */

/**
 * Every script that changes a record also increments the version key (the last KEY), so that a reader can
 * tell with one GET whether anything changed since it last listed.
 */

/** KEYS: record, ids, addresses, tokens, version. ARGV: id, created-at score, ip, token hash, then field/value pairs. */
export const INSERT = `
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[3], ARGV[1]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], ARGV[4], ARGV[1]) end
redis.call('INCR', KEYS[5])
return 1`;

/**
 * Compare-and-set. KEYS: record, addresses, version. ARGV: allowed statuses ("a,b" or "" for any), required run
 * ("" for any), then field/value pairs. Keeps the address index in step when the ip field changes.
 * Returns {'missing'} | {'refused', fields} | {'applied', fields, previous status}.
 */
export const TRANSITION = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local cur = redis.call('HMGET', KEYS[1], 'status', 'run', 'ip', 'container_id')
local allowed = ARGV[1] == '' or string.find(',' .. ARGV[1] .. ',', ',' .. cur[1] .. ',', 1, true)
if not allowed or (ARGV[2] ~= '' and cur[2] ~= ARGV[2]) then
  return {'refused', redis.call('HGETALL', KEYS[1])}
end
local newIp = nil
for i = 3, #ARGV, 2 do if ARGV[i] == 'ip' then newIp = ARGV[i + 1] end end
if newIp ~= nil and newIp ~= cur[3] then
  if cur[3] and cur[3] ~= '' and redis.call('HGET', KEYS[2], cur[3]) == cur[4] then redis.call('HDEL', KEYS[2], cur[3]) end
  if newIp ~= '' then redis.call('HSET', KEYS[2], newIp, cur[4]) end
end
if #ARGV >= 4 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 3))
  redis.call('INCR', KEYS[3])
end
return {'applied', redis.call('HGETALL', KEYS[1]), cur[1]}`;

/** KEYS: record, ids, addresses, tokens, version. ARGV: id. Returns 1 when the record existed. */
export const REMOVE = `
local ip = redis.call('HGET', KEYS[1], 'ip')
if ip and ip ~= '' and redis.call('HGET', KEYS[3], ip) == ARGV[1] then redis.call('HDEL', KEYS[3], ip) end
local token = redis.call('HGET', KEYS[1], 'token_hash')
if token and token ~= '' and redis.call('HGET', KEYS[4], token) == ARGV[1] then redis.call('HDEL', KEYS[4], token) end
redis.call('ZREM', KEYS[2], ARGV[1])
local removed = redis.call('DEL', KEYS[1])
if removed == 1 then redis.call('INCR', KEYS[5]) end
return removed`;

/**
 * Every record in one round trip, oldest first, after the version they are at. KEYS: ids, version.
 * ARGV: record key prefix. (Reads keys it is not given, which is fine on a single Redis; this store does
 * not support Cluster.)
 */
export const LIST = `
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {redis.call('GET', KEYS[2]) or '0'}
for i, id in ipairs(ids) do out[i + 1] = redis.call('HGETALL', ARGV[1] .. id) end
return out`;

/**
 * The ids that start with a prefix, at most two (two already means "ambiguous"). KEYS: ids. ARGV: prefix.
 */
export const RESOLVE_PREFIX = `
local found = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(id, 1, #ARGV[1]) == ARGV[1] then
    found[#found + 1] = id
    if #found == 2 then break end
  end
end
return found`;

/**
 * KEYS: addresses, tokens, version. ARGV: ip, record key prefix, active, at, token hash ('' for none).
 * Returns 1 (stored), 0 (no running container to credit) or -1 (unknown token, or another container's).
 * Writes only into a record that exists and runs: a check-in cannot resurrect a deleted record.
 */
export const CHECK_IN = `
local id = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[5] ~= '' then
  local owner = redis.call('HGET', KEYS[2], ARGV[5])
  if not owner or (id and id ~= owner) then return -1 end
  id = owner
end
if not id then return 0 end
local key = ARGV[2] .. id
if redis.call('HGET', key, 'status') ~= 'running' then return 0 end
redis.call('HSET', key, 'active', ARGV[3], 'checkin_at', ARGV[4])
redis.call('INCR', KEYS[3])
return 1`;
