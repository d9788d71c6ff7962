"""The seeded simulator of customers, support tickets, NPS surveys and the true risk."""

from features.simulate.config import SimulationConfig
from features.simulate.outreach import LoopWorld
from features.simulate.population import _draw_customers as _draw_customers
from features.simulate.risk import _risk_terms as _risk_terms
from features.simulate.simulation import Simulation, simulate, write_simulation
from features.simulate.tickets import _draw_agents as _draw_agents
from features.simulate.tickets import _draw_interactions as _draw_interactions

__all__ = ["LoopWorld", "Simulation", "SimulationConfig", "simulate", "write_simulation"]
