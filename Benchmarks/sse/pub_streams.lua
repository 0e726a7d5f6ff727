-- wrk script for journal-server: POST ~40-byte chunks over keep-alive connections.
-- env STREAMS=K spreads requests round-robin over /streams/wrkN-0 .. wrkN-(K-1) (PREFIX=wrkN);
-- default: the URL's path. The streams must exist (run.sh creates them).
local streams = tonumber(os.getenv("STREAMS") or "0")
local prefix = os.getenv("PREFIX") or "wrk"
-- env BATCH=K posts K chunks per request to /streams/PREFIX/batch instead (JSON body).
local batch = tonumber(os.getenv("BATCH") or "0")
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
wrk.body = "seq=0 the quick brown fox jumps over lazy"
if batch > 0 then
  local chunks = {}
  for i = 1, batch do chunks[i] = '"seq=' .. i .. ' the quick brown fox jumps over lazy"' end
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"chunks":[' .. table.concat(chunks, ",") .. ']}'
end
request = function()
  n = n + 1
  if batch > 0 then
    return wrk.format("POST", "/streams/" .. prefix .. "/batch")
  end
  if streams > 0 then
    return wrk.format("POST", "/streams/" .. prefix .. "-" .. (n % streams) .. "/chunks")
  end
  return wrk.format()
end
