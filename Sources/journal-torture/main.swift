// journal-torture: the kill loop of issue 8. `loop` runs a writer child (this binary in
// `child` mode) against a journal, kills it with SIGKILL at a random moment, and checks the
// journal against the child's ledger of acknowledged operations after every kill.

#if canImport(Glibc)
    import Glibc
#endif

let usage = """
    usage: journal-torture loop --iterations N [--seed S] [--dir D] [--lives-per-journal 100]
                                [--long-every 50] [--keep 0|1]
           journal-torture child --journal P --ledger P --memory P --life N --seed S [...]   (run by loop)

    """

let arguments = CommandLine.arguments
do {
    guard arguments.count >= 2 else { throw UsageError(description: "a mode (loop or child) is required") }
    let flags = try Flags(arguments.dropFirst(2))
    switch arguments[1] {
    case "child": try WriterChild.run(try LifePlan(flags: flags))
    case "loop": exit(KillLoop.run(try LoopOptions(flags: flags)))
    default: throw UsageError(description: "unknown mode \"\(arguments[1])\"")
    }
} catch let error as UsageError {
    Console.error("journal-torture: \(error)\n\(usage)")
    exit(64)
} catch {
    Console.error("journal-torture: \(error)")
    exit(1)
}
