"""Cases (办件): intake and transitions as events, their projection into rows, what pages read of them
(search, timelines, deadline marks), conflicts held back for a clerk, the statistics as stored, who sees
which case, and a village station's purge of closed cases' personal data."""
