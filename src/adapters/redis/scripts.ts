/**
 * Lua scripts: each runs atomically in Redis, so a transition or check-in can never interleave with
 * another writer (a check-in racing a delete cannot bring half a record back).
 */

/**
 * Every script that changes a record also increments the version key, so that a reader can tell with one GET
 * whether anything changed since it last listed, and keeps the count of records by status (`counts`), so that
 * they are read in one step however many there are.
 */

/** Lua: the status among a script's field/value pairs (ARGV from `from` on), or nil. */
const STATUS_OF = `
local function statusOf(from)
  for i = from, #ARGV - 1, 2 do if ARGV[i] == 'status' then return ARGV[i + 1] end end
  return nil
end`;

/**
 * KEYS: record, ids, addresses, tokens, version, creates, ports, counts. ARGV: id, created-at score, ip, token hash,
 * create id ('' for none), host ports (comma-separated, '' for none), then field/value pairs. Stores the record,
 * makes its host ports its own and drops the create's mark, in one step.
 */
export const INSERT = `
${STATUS_OF}
local before = redis.call('HGET', KEYS[1], 'status')
if before then redis.call('HINCRBY', KEYS[8], before, -1) end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
local status = statusOf(7)
if status then redis.call('HINCRBY', KEYS[8], status, 1) end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[3], ARGV[1]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], ARGV[4], ARGV[1]) end
if ARGV[5] ~= '' then redis.call('ZREM', KEYS[6], ARGV[5]) end
for port in string.gmatch(ARGV[6], '[^,]+') do redis.call('HSET', KEYS[7], port, ARGV[1]) end
redis.call('INCR', KEYS[5])
return 1`;

/**
 * KEYS: ids, creates. ARGV: create id, the epoch ms its mark expires, at most (0: no limit), now (ms). Marks a
 * create as under way, only while the records and the creates under way are fewer than `at most`: two creates
 * at once can never both take the last place. Returns 1 when marked, 0 when full.
 */
export const MARK_CREATE = `
local limit = tonumber(ARGV[3])
if limit > 0 then
  local open = redis.call('ZCOUNT', KEYS[2], '(' .. ARGV[4], '+inf')
  if redis.call('ZCARD', KEYS[1]) + open >= limit then return 0 end
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1`;

/**
 * The record of a container that has none, only if it still has none. KEYS: record, ids, addresses, tokens,
 * version, creates, ports, counts. ARGV: id, created-at score, ip, token hash, create id ('' for none), now (ms), host
 * ports (comma-separated), then field/value pairs. Returns 'exists', 'in_progress' (the create's mark has not expired), 'unfinished' (it has,
 * and the store has a version, so it is not one that lost everything), or 'adopted'. A token hash already
 * naming another record is left to that record.
 */
export const ADOPT = `
${STATUS_OF}
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
if ARGV[5] ~= '' then
  local expires = redis.call('ZSCORE', KEYS[6], ARGV[5])
  if expires then
    if tonumber(expires) > tonumber(ARGV[6]) then return 'in_progress' end
    if redis.call('EXISTS', KEYS[5]) == 1 then return 'unfinished' end
  end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 8))
local status = statusOf(8)
if status then redis.call('HINCRBY', KEYS[8], status, 1) end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[3], ARGV[1]) end
for port in string.gmatch(ARGV[7], '[^,]+') do redis.call('HSET', KEYS[7], port, ARGV[1]) end
if ARGV[4] ~= '' then
  local owner = redis.call('HGET', KEYS[4], ARGV[4])
  if not owner or redis.call('EXISTS', string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1]) .. owner) == 0 then redis.call('HSET', KEYS[4], ARGV[4], ARGV[1]) end
end
if ARGV[5] ~= '' then redis.call('ZREM', KEYS[6], ARGV[5]) end
redis.call('INCR', KEYS[5])
return 'adopted'`;

/** Of the ids given, those without a record. ARGV: record key prefix, then ids. */
export const UNRECORDED = `
local out = {}
for i = 2, #ARGV do
  if redis.call('EXISTS', ARGV[1] .. ARGV[i]) == 0 then out[#out + 1] = ARGV[i] end
end
return out`;

/**
 * Compare-and-set. KEYS: record, addresses, version, counts. ARGV: allowed statuses ("a,b" or "" for any), required
 * start count (the hash's `run` field; "" for any), then field/value pairs. Keeps the address index in step when the ip field changes.
 * Returns {'missing'} | {'refused', fields} | {'applied', fields, previous status}.
 */
export const TRANSITION = `
${STATUS_OF}
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
  local status = statusOf(3)
  if status and status ~= cur[1] then
    redis.call('HINCRBY', KEYS[4], cur[1], -1)
    redis.call('HINCRBY', KEYS[4], status, 1)
  end
  redis.call('INCR', KEYS[3])
end
return {'applied', redis.call('HGETALL', KEYS[1]), cur[1]}`;

/**
 * KEYS: record, ids, addresses, tokens, version, ports, counts. ARGV: id. Returns 1 when the record existed. Its host
 * ports are free again.
 */
export const REMOVE = `
local ports = redis.call('HGET', KEYS[1], 'ports')
if ports then
  local ok, map = pcall(cjson.decode, ports)
  if ok and type(map) == 'table' then
    for _, host in pairs(map) do
      if redis.call('HGET', KEYS[6], tostring(host)) == ARGV[1] then redis.call('HDEL', KEYS[6], tostring(host)) end
    end
  end
end
local ip = redis.call('HGET', KEYS[1], 'ip')
if ip and ip ~= '' and redis.call('HGET', KEYS[3], ip) == ARGV[1] then redis.call('HDEL', KEYS[3], ip) end
local token = redis.call('HGET', KEYS[1], 'token_hash')
if token and token ~= '' and redis.call('HGET', KEYS[4], token) == ARGV[1] then redis.call('HDEL', KEYS[4], token) end
redis.call('ZREM', KEYS[2], ARGV[1])
local status = redis.call('HGET', KEYS[1], 'status')
local removed = redis.call('DEL', KEYS[1])
if removed == 1 then
  if status then redis.call('HINCRBY', KEYS[7], status, -1) end
  redis.call('INCR', KEYS[5])
end
return removed`;

/**
 * The records by status counted anew (the counts every write keeps could only drift from a record changed by
 * hand, or one kept by a release before the counts). KEYS: ids, counts. ARGV: record key prefix. Once per
 * reconciliation pass.
 */
export const RECOUNT = `
local counts = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local status = redis.call('HGET', ARGV[1] .. id, 'status')
  if status then counts[status] = (counts[status] or 0) + 1 end
end
redis.call('DEL', KEYS[2])
for status, n in pairs(counts) do redis.call('HSET', KEYS[2], status, n) end
return 1`;

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
 * Returns {1, its stop_at} (stored), 0 (no running container to credit) or -1 (unknown token, or another
 * container's).
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
return {1, redis.call('HGET', key, 'stop_at') or ''}`;

/**
 * Takes `count` free host ports of a range for a create under way. KEYS: ports, cursor, creates. ARGV: count,
 * first, last, create id, now (ms). A port is free when nobody holds it: no record, no create whose mark is
 * still good, no foreign listener seen in the last while ("foreign:<until ms>"). The search goes on from where
 * the last one stopped, so that a port just given up is not handed out again at once. Returns the ports taken
 * (fewer than asked when the range is full; then none is kept).
 */
export const RESERVE_PORTS = `
local count, first, last, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5])
local size = last - first + 1
local start = tonumber(redis.call('GET', KEYS[2]) or '0') % size
local taken = {}
for step = 0, size - 1 do
  if #taken == count then break end
  local port = tostring(first + (start + step) % size)
  local owner = redis.call('HGET', KEYS[1], port)
  local free = not owner
  if owner then
    local create = string.match(owner, '^create:(.+)$')
    local foreign = tonumber(string.match(owner, '^foreign:(%d+)$'))
    if create then
      local expires = redis.call('ZSCORE', KEYS[3], create)
      free = (not expires) or tonumber(expires) < now
    elseif foreign then
      free = foreign < now
    end
  end
  if free then
    taken[#taken + 1] = port
    redis.call('SET', KEYS[2], (start + step + 1) % size)
  end
end
if #taken < count then return {} end
for _, port in ipairs(taken) do redis.call('HSET', KEYS[1], port, 'create:' .. ARGV[4]) end
return taken`;

/** Gives ports back. KEYS: ports. ARGV: owner as held ('create:<id>' or a record id), then ports. */
export const RELEASE_PORTS = `
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1`;
