import { Simulator } from './policy.jsx';

export function SimulatePage({ service }) {
  return (
    <section aria-labelledby="h-sim">
      <h1 id="h-sim">Policy simulator</h1>
      <p class="muted">Evaluates a request exactly as the data plane would, on its live snapshot, without sending it:
        is the service reachable from the source VPC (the double association), and what do the service network's and
        the service's auth policies decide, statement by statement.</p>
      <Simulator service={service} />
    </section>
  );
}
