import { describe, expect, it } from 'vitest'
import { containerOptions } from '../../src/jobs/drivers/docker.js'
import type { StartRequest } from '../../src/jobs/drivers/driver.js'
import { execEnvironment } from '../../src/jobs/drivers/exec.js'
import { normaliseJob } from '../../src/jobs/spec.js'

const PEER = '12D3KooWLWomxqdiAuZKSQBNYfhJoC8JSERe31aJ6BWat5M9QUVx'

function request(driver: 'exec' | 'docker', gpus: readonly number[] | undefined, env = {}): StartRequest {
  const input =
    driver === 'exec'
      ? { driver, command: ['true'], env }
      : { driver, image: 'registry.test/cuda:12', command: ['true'], env }
  return {
    spec: normaliseJob(input, 'job', { now: 0, submittedBy: PEER }),
    attempt: 1,
    logPath: '/nowhere/1.log',
    logMaxBytes: 1024,
    workdir: '/nowhere',
    env: { SHOAL_JOB_ID: 'job' },
    gpus,
  }
}

describe('GPUs handed to the work', () => {
  it('asks the engine for the attempt’s devices by index, as docker run --gpus does', () => {
    const options = containerOptions(request('docker', [1, 3]), 'shoal-job-1')
    expect(options.HostConfig?.DeviceRequests).toEqual([
      { Driver: '', Count: 0, DeviceIDs: ['1', '3'], Capabilities: [['gpu']], Options: {} },
    ])
    expect(options.Env).not.toContain('NVIDIA_VISIBLE_DEVICES=void')
  })

  it('hides a GPU node’s devices from a container given none, and leaves nodes without GPUs alone', () => {
    const none = containerOptions(request('docker', []), 'shoal-job-1')
    expect(none.HostConfig?.DeviceRequests).toBeUndefined()
    expect(none.Env).toContain('NVIDIA_VISIBLE_DEVICES=void')
    const noGpus = containerOptions(request('docker', undefined), 'shoal-job-1')
    expect(noGpus.HostConfig?.DeviceRequests).toBeUndefined()
    expect(noGpus.Env?.some((entry) => entry.startsWith('NVIDIA_'))).toBe(false)
  })

  it('gives a process its devices in CUDA_VISIBLE_DEVICES, over whatever its spec says', () => {
    const env = execEnvironment(request('exec', [0, 2], { CUDA_VISIBLE_DEVICES: '0,1,2,3' }))
    expect(env).toMatchObject({ CUDA_VISIBLE_DEVICES: '0,2', CUDA_DEVICE_ORDER: 'PCI_BUS_ID' })
    expect(execEnvironment(request('exec', [])).CUDA_VISIBLE_DEVICES).toBe('')
    expect(execEnvironment(request('exec', undefined)).CUDA_VISIBLE_DEVICES).toBeUndefined()
  })
})
