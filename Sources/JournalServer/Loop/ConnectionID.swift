/// A connection's slot in the loop's table plus the slot's generation, packed into the
/// 64-bit epoll token. A report, worker completion or journal wake-up for a connection that
/// has since closed (and whose slot may hold a new connection) carries the old generation and
/// is ignored.
struct ConnectionID: Sendable, Hashable {
    /// Index in the loop's connection table.
    let slot: Int
    /// Bumped each time the slot is reused; always below 2^31, so tokens never have the high
    /// bit set that marks the loop's own descriptors.
    let generation: UInt32

    /// The epoll token.
    var token: UInt64 { UInt64(generation) << 32 | UInt64(UInt32(truncatingIfNeeded: slot)) }

    /// Unpacks a token made by `token`; nil for the loop's own descriptors.
    init?(token: UInt64) {
        guard token & (1 << 63) == 0 else { return nil }
        slot = Int(token & 0xFFFF_FFFF)
        generation = UInt32(token >> 32)
    }

    /// A slot and generation.
    init(slot: Int, generation: UInt32) {
        self.slot = slot
        self.generation = generation
    }
}
