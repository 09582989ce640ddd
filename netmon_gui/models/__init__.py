"""Qt item models over core state (each module defines its own role constants)."""
