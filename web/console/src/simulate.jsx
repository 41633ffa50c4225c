import { Simulator } from './policy.jsx';

export function SimulatePage({ service }) {
  return (
    <section aria-labelledby="h-sim">
      <h1 id="h-sim">Policy simulator</h1>
      <p class="muted">Evaluates a request exactly as the data plane would, on its live snapshot, without sending it:
        is the service reachable from the source VPC (the double association), and what do the service network's and
        the service's auth policies decide, statement by statement. With a draft policy, it answers what they would
        decide if the draft were saved; nothing is saved.</p>
      <Simulator service={service} draftFields />
    </section>
  );
}
