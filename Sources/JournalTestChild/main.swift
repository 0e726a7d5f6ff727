import Journal

let path = "/tmp/sj/dbg.sj"
let j = try Journal(path: path)
print("opened")
let id = try j.createStream()
try j.append("x", to: id)
do { try j.close() } catch { print("close error", error) }
print("closed")
let k = try Journal(path: path)
print("reopened", k.recoveryReport)
