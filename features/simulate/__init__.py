"""The seeded simulator of customers, support tickets, NPS surveys and the true risk."""

from features.simulate.tickets import Simulation, SimulationConfig, simulate, write_simulation
from features.simulate.tickets import _draw_agents as _draw_agents
from features.simulate.tickets import _draw_customers as _draw_customers
from features.simulate.tickets import _draw_interactions as _draw_interactions
from features.simulate.tickets import _risk_terms as _risk_terms

__all__ = ["Simulation", "SimulationConfig", "simulate", "write_simulation"]
