-- wrk script for scripts/faults.sh (FastCGI recycling): authenticated GETs rotating over
-- routes of every function group; counts answers by status so that any non-2xx shows.
--
-- Environment: TOKEN (access token), WRK_PATHS (paths separated by spaces),
--   WRK_LIMIT (requests per thread, then the thread stops; 0 = until -d ends).
-- Prints at the end one line: "MIXED requests=N ok=N non2xx=N first_bad=STATUS:PATH".

local threads = {}
local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
    table.insert(threads, thread)
end

function init(args)
    token = os.getenv("TOKEN") or ""
    limit = tonumber(os.getenv("WRK_LIMIT") or "0") or 0
    paths = {}
    for p in string.gmatch(os.getenv("WRK_PATHS") or "/api/v1/auth/health", "%S+") do
        table.insert(paths, p)
    end
    idx = (tid or 1) % #paths
    sent_path = {}
    n = 0
    ok = 0
    bad = 0
    first_bad = ""
end

function request()
    idx = idx % #paths + 1
    last_path = paths[idx]
    return wrk.format("GET", last_path, { ["Authorization"] = "Bearer " .. token })
end

function response(status, headers, body)
    n = n + 1
    if status >= 200 and status < 300 then
        ok = ok + 1
    else
        bad = bad + 1
        if first_bad == "" then
            first_bad = status .. ":" .. tostring(last_path)
        end
    end
    if limit > 0 and n >= limit then
        wrk.thread:stop()
    end
end

function done(summary, latency, requests)
    local tn, tok, tbad, fb = 0, 0, 0, ""
    for _, t in ipairs(threads) do
        tn = tn + (t:get("n") or 0)
        tok = tok + (t:get("ok") or 0)
        tbad = tbad + (t:get("bad") or 0)
        local f = t:get("first_bad") or ""
        if fb == "" and f ~= "" then fb = f end
    end
    local e = summary.errors
    io.write(string.format(
        "MIXED requests=%d ok=%d non2xx=%d socket_errors=%d connect=%d read=%d write=%d timeout=%d first_bad=%s p99_ms=%.1f max_ms=%d\n",
        tn, tok, tbad, e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout,
        fb == "" and "-" or fb, latency:percentile(99) / 1000, math.floor(latency.max / 1000)))
end
