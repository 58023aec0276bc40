-- wrk script of scripts/soak.sh: a steady mix of traffic, one connection per thread
-- (run wrk with -c equal to -t, so that each answer belongs to the request just sent).
--
--   ~84 % authenticated GETs rotating over routes of every function group,
--    5 % PUT /api/v1/downtime/{id} justifications (operator), each thread its own stops,
--    1 % logins (the new access token replaces the old one: any soak length works),
--   10 % malformed requests (bad ids, reversed ranges, junk JSON, bad tokens, SQL
--        fragments) that must get a 4xx, never a 5xx nor a 2xx.
--
-- Environment: SOAK_TOKENS (access tokens of the operators soak1..soakN, one a thread),
--   SOAK_USER_PREFIX (soak) and SOAK_PASSWORD (for the logins),
--   SOAK_DELAY_MS (pause before each request of a thread), SOAK_STOPS ("line:id ..."
--   stops to justify), SOAK_FAILURES ("id ..." active reason ids), SOAK_OUT (folder: each
--   thread appends "line id failure comment" per justification answered 200 to
--   justified-<thread>.txt), SOAK_GOOD / SOAK_BAD (routes, see soak.sh).
-- Prints one line at the end: "SOAK key=value ...".

local threads = {}
local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
    table.insert(threads, thread)
end

local function split(s, sep)
    local out = {}
    for item in string.gmatch(s or "", "[^" .. sep .. "]+") do
        table.insert(out, item)
    end
    return out
end

function init(args)
    math.randomseed(tid * 7919 + os.time())
    nthreads = tonumber(os.getenv("SOAK_THREADS") or "1") or 1
    -- Each thread signs in as its own user (sessions per user are capped).
    local tokens = split(os.getenv("SOAK_TOKENS"), " ")
    token = tokens[(tid - 1) % #tokens + 1] or ""
    user = (os.getenv("SOAK_USER_PREFIX") or "soak") .. ((tid - 1) % #tokens + 1)
    password = os.getenv("SOAK_PASSWORD") or ""
    pause = tonumber(os.getenv("SOAK_DELAY_MS") or "0") or 0
    good = split(os.getenv("SOAK_GOOD"), " ")
    -- bad: METHOD|PATH|BODY|AUTH  separated by newlines (BODY may be empty, AUTH token|none|junk)
    bad = {}
    for _, line in ipairs(split(os.getenv("SOAK_BAD"), "\n")) do
        local m, p, b, a = string.match(line, "^([^|]*)|([^|]*)|([^|]*)|([^|]*)$")
        if m then table.insert(bad, { m, p, b, a }) end
    end
    failures = split(os.getenv("SOAK_FAILURES"), " ")
    stops = {}
    local all = split(os.getenv("SOAK_STOPS"), " ")
    for i, s in ipairs(all) do
        if (i - 1) % nthreads == tid - 1 then
            local l, id = string.match(s, "^(%d+):(%d+)$")
            if l then table.insert(stops, { l, id }) end
        end
    end
    out = io.open((os.getenv("SOAK_OUT") or "/tmp") .. "/justified-" .. tid .. ".txt", "a")
    gi, si, bi = tid, 0, tid
    n, errors, bad_tried, bad_wrong, justified, logins, good_n = 0, 0, 0, 0, 0, 0, 0
    first_errors = ""
    kind, what = "", ""
end

-- Wall clock in ms through LuaJIT's ffi (wrk embeds LuaJIT), so that each thread keeps a
-- steady rate whatever the latency: the pause is what is left of its slot.
local ok_ffi, ffi = pcall(require, "ffi")
local now_ms = nil
if ok_ffi then
    pcall(ffi.cdef, "typedef struct { long tv_sec; long tv_nsec; } soak_timespec; int clock_gettime(int, soak_timespec *);")
    local ts = ffi.new("soak_timespec")
    now_ms = function()
        ffi.C.clock_gettime(1, ts)    -- CLOCK_MONOTONIC
        return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
    end
end

function delay()
    if not now_ms or pause <= 0 then
        return pause
    end
    local now = now_ms()
    if not next_due or next_due < now - 1000 then
        next_due = now          -- first request, or more than a second behind: no burst
    end
    next_due = next_due + pause
    return math.max(0, math.floor(next_due - pause - now))
end

local function note_error(status, body)
    errors = errors + 1
    if #first_errors < 600 then
        first_errors = first_errors .. " " .. status .. ":" .. kind .. ":" .. what ..
            ":" .. string.sub(string.gsub(body or "", "%s+", " "), 1, 120) .. ";"
    end
end

function request()
    local r = math.random(100)
    if r <= 1 then
        kind, what = "login", "/api/v1/auth/login"
        return wrk.format("POST", what, { ["Content-Type"] = "application/json" },
            '{"username": "' .. user .. '", "password": "' .. password .. '"}')
    elseif r <= 6 and #stops > 0 and #failures > 0 then
        si = si % #stops + 1
        local s = stops[si]
        local f = failures[math.random(#failures)]
        local comment = "soak t" .. tid .. " n" .. n
        kind = "justify"
        what = "/api/v1/downtime/" .. s[2] .. "?line_id=" .. s[1]
        pending = s[1] .. " " .. s[2] .. " " .. f .. " " .. comment
        return wrk.format("PUT", what,
            { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token },
            '{"failure_id": ' .. f .. ', "comment": "' .. comment .. '"}')
    elseif r <= 16 and #bad > 0 then
        bi = bi % #bad + 1
        local b = bad[bi]
        kind, what = "bad", b[1] .. " " .. b[2]
        local h = {}
        if b[4] == "token" then h["Authorization"] = "Bearer " .. token
        elseif b[4] == "junk" then h["Authorization"] = "Bearer eyJhbGciOiJIUzI1NiJ9.e30.junk"
        end
        local body = nil
        if b[3] ~= "" then
            h["Content-Type"] = "application/json"
            body = b[3]
        end
        return wrk.format(b[1], b[2], h, body)
    else
        gi = gi % #good + 1
        kind, what = "get", good[gi]
        return wrk.format("GET", what, { ["Authorization"] = "Bearer " .. token })
    end
end

function response(status, headers, body)
    n = n + 1
    if kind == "bad" then
        bad_tried = bad_tried + 1
        if status < 400 or status > 499 then
            bad_wrong = bad_wrong + 1
            note_error(status, body)
        end
    elseif kind == "login" then
        logins = logins + 1
        local t = string.match(body or "", '"access_token"%s*:%s*"([^"]+)"')
        if status == 200 and t then token = t else note_error(status, body) end
    elseif kind == "justify" then
        if status == 200 then
            justified = justified + 1
            out:write(pending .. "\n")
            out:flush()
        else
            note_error(status, body)
        end
    else
        good_n = good_n + 1
        if status < 200 or status > 399 then note_error(status, body) end
    end
end

function done(summary, latency, requests)
    local tot = { n = 0, errors = 0, bad_tried = 0, bad_wrong = 0, justified = 0, logins = 0, good_n = 0 }
    local fe = ""
    for _, t in ipairs(threads) do
        for k, _ in pairs(tot) do tot[k] = tot[k] + (t:get(k) or 0) end
        fe = fe .. (t:get("first_errors") or "")
    end
    local e = summary.errors
    io.write(string.format(
        "SOAK requests=%d answered=%d get=%d errors=%d socket_errors=%d bad_tried=%d bad_wrong=%d justified=%d logins=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
        summary.requests, tot.n, tot.good_n, tot.errors, e.connect + e.read + e.write + e.timeout,
        tot.bad_tried, tot.bad_wrong, tot.justified, tot.logins,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
    io.write("SOAK_FIRST_ERRORS" .. (fe == "" and " none" or fe) .. "\n")
end
