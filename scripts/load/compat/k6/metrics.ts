// The `k6/metrics` module for the compatibility runner: Counter, Gauge, Rate, Trend record their samples.
import { addSample, defineMetric, K6CompatError, type MetricContains, type MetricType } from '../state.ts';

class Metric {
  readonly name: string;
  constructor(name: string, type: MetricType, isTime: boolean | undefined) {
    if (typeof name !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_]{0,127}$/.test(name)) throw new K6CompatError(`metric name ${JSON.stringify(name)} is not a valid k6 metric name`);
    const contains: MetricContains = isTime === true ? 'time' : 'default';
    this.name = defineMetric(name, type, contains).name;
  }
  /** Records `value`; k6's tags argument is accepted and not kept. */
  add(value: number | boolean): void {
    const number = typeof value === 'boolean' ? Number(value) : value;
    if (typeof number !== 'number' || Number.isNaN(number)) throw new K6CompatError(`${this.name}.add(${String(value)}): not a number`);
    addSample(this.name, number);
  }
}

export class Counter extends Metric {
  constructor(name: string, isTime?: boolean) {
    super(name, 'counter', isTime);
  }
}
export class Gauge extends Metric {
  constructor(name: string, isTime?: boolean) {
    super(name, 'gauge', isTime);
  }
}
export class Rate extends Metric {
  constructor(name: string) {
    super(name, 'rate', false);
  }
  override add(value: number | boolean): void {
    super.add(value === false || value === 0 ? 0 : 1);
  }
}
export class Trend extends Metric {
  constructor(name: string, isTime?: boolean) {
    super(name, 'trend', isTime);
  }
}

export default { Counter, Gauge, Rate, Trend };
