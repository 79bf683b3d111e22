"""The protocol: clocks, events, chains, signed heads, encryption, the event log and its trust questions."""
